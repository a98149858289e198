#include "panels/heads_panel.hpp"

#include <QComboBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

#include "attnscope/atomic_file.hpp"
#include "attnscope/error.hpp"
#include "attnscope/request.hpp"
#include "attnscope/result_format.hpp"
#include "panels/head_stats_model.hpp"
#include "text.hpp"
#include "token_change.hpp"

namespace attnscope::ui {

HeadsPanel::HeadsPanel(QWidget* parent)
    : QWidget(parent),
      m_stats(new HeadStatsModel(this)),
      m_sorted(new QSortFilterProxyModel(this)),
      m_table(new QTableView),
      m_exportButton(new QPushButton(tr("Export CSV\u2026"))),
      m_probeField(new QComboBox) {
  m_sorted->setSourceModel(m_stats);
  m_sorted->setSortRole(Qt::UserRole);
  m_table->setObjectName(QStringLiteral("headsTable"));
  m_table->setModel(m_sorted);
  m_table->setSortingEnabled(true);
  m_table->sortByColumn(-1, Qt::AscendingOrder);  // the snapshot's order until a header is clicked
  m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_table->setSelectionMode(QAbstractItemView::SingleSelection);
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_table->verticalHeader()->hide();
  m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  // Sized from the rows in view: measuring GPT-2's 144 rows took 3 ms of every snapshot's first paint.
  m_table->horizontalHeader()->setResizeContentsPrecision(0);
  // The probe's columns, when shown, come right after the head's name: they are what the table is sorted by.
  for (const int column : {HeadStatsModel::kProbeWeight, HeadStatsModel::kProbeRank})
    m_table->horizontalHeader()->moveSection(
        m_table->horizontalHeader()->visualIndex(column),
        HeadStatsModel::mask + 1 + (column - HeadStatsModel::kProbeWeight));
  // Compare's column, when shown, comes first of all: it is what a comparison is sorted by.
  m_table->horizontalHeader()->moveSection(
      m_table->horizontalHeader()->visualIndex(HeadStatsModel::kTotalVariation), HeadStatsModel::mask + 1);
  m_exportButton->setEnabled(false);

  auto* hint = new QLabel(
      tr("Click a column to sort by it, a row to show that head. Probe: pick a key (or Alt+click a cell or a "
         "token) to rank every head by the selected query's weight on it."));
  hint->setWordWrap(true);
  hint->setStyleSheet(QStringLiteral("color: palette(mid);"));
  m_probeField->setObjectName(QStringLiteral("probeKey"));
  m_probeField->setToolTip(tr("The key every head is asked about, for the selected query"));
  m_probeField->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  m_probeField->setMinimumContentsLength(10);
  auto* probeRow = new QHBoxLayout;
  auto* probeLabel = new QLabel(tr("&Probe key"));
  probeLabel->setBuddy(m_probeField);
  probeRow->addWidget(probeLabel);
  probeRow->addWidget(m_probeField, 1);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(hint);
  layout->addLayout(probeRow);
  layout->addWidget(m_table, 1);
  layout->addWidget(m_exportButton, 0, Qt::AlignRight);

  connect(m_table, &QTableView::clicked, this, [this](const QModelIndex& index) {
    const HeadStatsModel::Place place = m_stats->placeOf(m_sorted->mapToSource(index).row());
    emit headClicked(place.maskRow, place.layer, place.head);
  });
  connect(m_exportButton, &QPushButton::clicked, this, &HeadsPanel::exportCsvDialog);
}

void HeadsPanel::setModel(ScopeModel* model) {
  m_model = model;
  const auto show = [this](const SnapshotPointer& snapshot) {
    m_stats->setSnapshot(snapshot);
    m_table->setColumnHidden(HeadStatsModel::layer, !snapshot || !snapshot->model);
    m_exportButton->setEnabled(snapshot && !snapshot->headStats.empty());
    fillProbeField();
    updateProbe();
  };
  show(model->snapshot());
  connect(model, &ScopeModel::snapshotChanged, this, show);
  const auto compare = [this](const ComparisonPointer& comparison) {
    m_stats->setComparison(comparison);
    m_table->setColumnHidden(HeadStatsModel::kTotalVariation, !comparison || !comparison->b);
  };
  compare(model->comparison());
  connect(model, &ScopeModel::comparisonChanged, this, compare);
  connect(model, &ScopeModel::probeChanged, this, [this](int key) {
    m_probeField->setCurrentIndex(key + 1);
    updateProbe();
  });
  connect(m_probeField, &QComboBox::activated, this,
          [this](int index) { m_model->setProbeKey(index - 1); });  // item 0 is "none"
}

void HeadsPanel::fillProbeField() {
  const QSignalBlocker blocker(m_probeField);
  const SnapshotPointer& snapshot = m_model->snapshot();
  const QStringList tokens = snapshot ? snapshot->tokenTexts : QStringList();
  // Item 0 is "none", item i + 1 token i, numbered as the token chips number them. An edit changes a few
  // tokens: the items before the first changed one stay, and so do those after the last when the count (so
  // their numbers) stayed; the rest are replaced in one batch. Remaking a long text's 4,096 items took 2 ms
  // of every snapshot.
  if (m_probeField->count() == 0) m_probeField->addItem(tr("none"));
  const auto item = [&](qsizetype token) {
    return QStringLiteral("%1 \u00b7 %2").arg(token + 1).arg(tokens[token]);
  };
  const qsizetype shown = m_probeTokens.size();
  const TokenChange change = tokenChange(shown, tokens.size(), [&](qsizetype before, qsizetype after) {
    return m_probeTokens[before] == tokens[after];
  });
  if (shown == tokens.size()) {
    for (qsizetype token = change.front; token < tokens.size() - change.back; ++token)
      m_probeField->setItemText(static_cast<int>(token) + 1, item(token));
  } else {
    if (change.front < shown)
      m_probeField->model()->removeRows(static_cast<int>(change.front) + 1,
                                        static_cast<int>(shown - change.front));
    QStringList items;
    items.reserve(tokens.size() - change.front);
    for (qsizetype token = change.front; token < tokens.size(); ++token) items << item(token);
    m_probeField->addItems(items);
  }
  m_probeTokens = tokens;
  m_probeField->setCurrentIndex(m_model->probeKey() + 1);
  m_probeField->setEnabled(snapshot != nullptr);
}

void HeadsPanel::updateProbe() {
  const std::optional<SnapshotProbe>& probe = m_model->probe();
  m_table->setColumnHidden(HeadStatsModel::kProbeWeight, !probe);
  m_table->setColumnHidden(HeadStatsModel::kProbeRank, !probe);
  m_stats->setProbe(probe);
  if (!probe) return;
  m_table->sortByColumn(HeadStatsModel::kProbeWeight, Qt::DescendingOrder);
  emit statusMessage(probeSummary(*m_model->snapshot(), *probe));
}

bool HeadsPanel::exportCsv(const QString& path, QString* error) const {
  const SnapshotPointer& snapshot = m_stats->snapshot();
  if (!snapshot) {
    if (error) *error = tr("There are no heads yet: type a sentence.");
    return false;
  }
  std::vector<HeadStatsRow> rows;
  for (int row = 0; row < m_stats->rowCount(); ++row) {
    const HeadStatsModel::Place place = m_stats->placeOf(row);
    const MaskSpec& mask = snapshot->rows[place.maskRow].mask;
    rows.push_back({place.layer, place.head, snapshot->model ? model_mask_name(mask) : mask.to_string(),
                    snapshot->statsOf(place.maskRow, place.layer, place.head)});
  }
  try {
    write_file_atomically(QFile::encodeName(path).toStdString(), head_stats_to_csv(rows));
  } catch (const Error& problem) {
    if (error) *error = toQString(problem.what());
    return false;
  }
  return true;
}

void HeadsPanel::exportCsvDialog() {
  const QString path = QFileDialog::getSaveFileName(this, tr("Export the Heads Table"),
                                                    QStringLiteral("heads.csv"), tr("CSV (*.csv)"));
  if (path.isEmpty()) return;
  QString error;
  if (!exportCsv(path, &error)) QMessageBox::warning(this, tr("Export the Heads Table"), error);
}

}  // namespace attnscope::ui
