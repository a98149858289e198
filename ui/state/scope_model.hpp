#pragma once
// The window's state, apart from any widget: the settings (and how they draw the maps), the snapshot on
// screen, what the pointer is over and which query is selected. Views subscribe to it and ask it for
// changes; they never talk to each other.

#include <QObject>
#include <optional>

#include "compute/attention_snapshot.hpp"
#include "compute/comparison.hpp"
#include "compute/snapshot_probe.hpp"
#include "state/display_options.hpp"
#include "state/view_settings.hpp"

namespace attnscope::ui {

// The selected query row and the map it was picked in (the detail panel explains that map's head and mask).
struct QuerySelection {
  int query = -1;
  int maskRow = 0;
  int head = 0;
  friend bool operator==(const QuerySelection&, const QuerySelection&) = default;
};

class ScopeModel : public QObject {
  Q_OBJECT

 public:
  explicit ScopeModel(QObject* parent = nullptr);

  const ViewSettings& settings() const { return m_settings; }
  void setSettings(const ViewSettings& settings);
  void setText(const QString& text);
  // How the settings draw the maps; changes (after settingsChanged) only when one of its fields does.
  const DisplayOptions& display() const { return m_settings.display; }

  // The snapshot on screen: the last valid computation, or null when the text is empty.
  const SnapshotPointer& snapshot() const { return m_snapshot; }
  void setSnapshot(SnapshotPointer snapshot);

  // Compare's result for the snapshot computed with it: null while Compare is off. It arrives just before
  // its snapshot; B's problem keeps A on screen.
  const ComparisonPointer& comparison() const { return m_comparison; }
  void setComparison(ComparisonPointer comparison);

  // The cell under the pointer (query row, key column); -1 for none. Hovering a token chip hovers (i, i).
  int hoveredQuery() const { return m_hoveredQuery; }
  int hoveredKey() const { return m_hoveredKey; }
  void setHover(int query, int key);

  const QuerySelection& selection() const { return m_selection; }
  void setSelection(const QuerySelection& selection);
  void selectQuery(int query);  // keeps the map
  void stepQuery(int delta);    // the query `delta` rows on (↑ ↓), kept inside the text

  // The key the probe asks every head about, for the selected query (Alt+click on a cell or a chip, or the
  // Heads dock's field); -1 for none. Dropped when the text no longer has that token.
  int probeKey() const { return m_probeKey; }
  void setProbeKey(int key);
  // That probe over the snapshot's heads, made again when the key, the selected query or its mask row, or
  // the snapshot changes (then probeChanged); empty without a key or a selected query.
  const std::optional<SnapshotProbe>& probe() const { return m_probe; }

 signals:
  void settingsChanged(const attnscope::ui::ViewSettings& settings);
  void displayChanged(const attnscope::ui::DisplayOptions& display);
  void snapshotChanged(const attnscope::ui::SnapshotPointer& snapshot);
  void comparisonChanged(const attnscope::ui::ComparisonPointer& comparison);
  void hoverChanged(int query, int key);
  void selectionChanged(const attnscope::ui::QuerySelection& selection);
  void probeChanged(int key);

 private:
  QuerySelection clamped(QuerySelection selection) const;
  void updateProbe();

  ViewSettings m_settings;
  SnapshotPointer m_snapshot;
  ComparisonPointer m_comparison;
  int m_hoveredQuery = -1;
  int m_hoveredKey = -1;
  // "journey", the query the book (and the seed notebook) explains, until the user picks another.
  QuerySelection m_selection{1, 0, 0};
  int m_probeKey = -1;
  std::optional<SnapshotProbe> m_probe;
};

}  // namespace attnscope::ui
