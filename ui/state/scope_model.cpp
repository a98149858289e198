#include "state/scope_model.hpp"

#include <algorithm>

#include "attnscope/error.hpp"

namespace attnscope::ui {

ScopeModel::ScopeModel(QObject* parent) : QObject(parent), m_settings(ViewSettings::defaults()) {}

void ScopeModel::setSettings(const ViewSettings& settings) {
  if (settings == m_settings) return;
  const bool newDisplay = settings.display != m_settings.display;
  m_settings = settings;
  emit settingsChanged(m_settings);
  if (newDisplay) emit displayChanged(m_settings.display);
}

void ScopeModel::setText(const QString& text) {
  if (text == m_settings.text) return;
  ViewSettings settings = m_settings;
  settings.text = text;
  setSettings(settings);
}

void ScopeModel::setComparison(ComparisonPointer comparison) {
  if (comparison == m_comparison) return;
  m_comparison = std::move(comparison);
  emit comparisonChanged(m_comparison);
}

void ScopeModel::setSnapshot(SnapshotPointer snapshot) {
  m_snapshot = std::move(snapshot);
  m_hoveredQuery = m_hoveredKey = -1;
  // Keep the selected query across edits where it still exists, so typing does not lose the detail view;
  // the probe follows the new snapshot before any view hears of it.
  m_selection = clamped(m_selection);
  const bool probing = m_probeKey >= 0;
  if (probing && (!m_snapshot || m_probeKey >= m_snapshot->tokenCount())) m_probeKey = -1;
  updateProbe();
  emit snapshotChanged(m_snapshot);
  emit hoverChanged(-1, -1);
  emit selectionChanged(m_selection);
  if (probing) emit probeChanged(m_probeKey);
}

void ScopeModel::setProbeKey(int key) {
  if (key < -1 || (m_snapshot && key >= m_snapshot->tokenCount()) || (!m_snapshot && key >= 0)) key = -1;
  if (key == m_probeKey) return;
  m_probeKey = key;
  updateProbe();
  emit probeChanged(key);
}

void ScopeModel::updateProbe() {
  m_probe.reset();
  if (!m_snapshot || m_probeKey < 0 || m_selection.query < 0) return;
  try {
    m_probe = probeSnapshot(*m_snapshot, m_selection.maskRow, m_selection.query, m_probeKey);
  } catch (const Error&) {
    // Out of the text: no probe (the selection and the key are kept inside it, so this is not expected).
  }
}

void ScopeModel::setHover(int query, int key) {
  if (query == m_hoveredQuery && key == m_hoveredKey) return;
  m_hoveredQuery = query;
  m_hoveredKey = key;
  emit hoverChanged(query, key);
}

void ScopeModel::setSelection(const QuerySelection& selection) {
  const QuerySelection next = clamped(selection);
  if (next == m_selection) return;
  const bool probed = next.query != m_selection.query || next.maskRow != m_selection.maskRow;
  m_selection = next;
  if (probed && m_probeKey >= 0) updateProbe();
  emit selectionChanged(m_selection);
  if (probed && m_probeKey >= 0) emit probeChanged(m_probeKey);
}

void ScopeModel::selectQuery(int query) {
  QuerySelection selection = m_selection;
  selection.query = query;
  setSelection(selection);
}

void ScopeModel::stepQuery(int delta) {
  if (!m_snapshot) return;
  selectQuery(std::clamp(m_selection.query + delta, 0, m_snapshot->tokenCount() - 1));
}

QuerySelection ScopeModel::clamped(QuerySelection selection) const {
  if (!m_snapshot) return selection;
  const int tokens = m_snapshot->tokenCount();
  selection.query = std::max(std::min(selection.query, tokens - 1), -1);
  selection.maskRow = std::clamp(selection.maskRow, 0, std::max(0, m_snapshot->maskCount() - 1));
  selection.head = std::clamp(selection.head, 0, std::max(0, m_snapshot->headCount() - 1));
  return selection;
}

}  // namespace attnscope::ui
