#include "compute/snapshot_probe.hpp"

#include <QStringList>
#include <cmath>
#include <string>

#include "attnscope/error.hpp"

namespace attnscope::ui {

SnapshotProbe probeSnapshot(const AttentionSnapshot& snapshot, int maskRow, int query, int key) {
  const int n = snapshot.tokenCount();
  if (query < 0 || query >= n || key < 0 || key >= n)
    throw Error("cannot probe query " + std::to_string(query) + " and key " + std::to_string(key) +
                ": the text has " + std::to_string(n) + " tokens");
  SnapshotProbe probe{maskRow, query, key, {}, true};
  std::vector<ProbedRow> rows;
  const int heads = snapshot.mechanismHeadCount();
  const int shownLayer = snapshot.model ? snapshot.model->layer : 0;
  // The shown layer: the maps' own weights (recomputed from q and k when a long text let them go).
  Matrix scratch;
  for (int head = 0; head < heads; ++head) {
    Eigen::Index stride = 0;
    const float* values = snapshot.values(maskRow, head, Quantity::weights, query, 1, 0, n, scratch, &stride);
    ProbedRow row{shownLayer, head, Vector(n)};
    for (int k = 0; k < n; ++k) row.weights[k] = snapshot.isMasked(maskRow, query, k) ? 0.0f : values[k];
    rows.push_back(std::move(row));
  }
  if (snapshot.model) {
    for (int layer = 0; layer < snapshot.model->config.n_layer; ++layer) {
      if (layer == shownLayer) continue;
      for (int head = 0; head < heads; ++head) {
        const OverviewMap& map = snapshot.overviewMap(maskRow, layer, head);
        if (map.size != n) {
          probe.everyLayer = false;  // reduced to blocks: no single weight to probe
          break;
        }
        ProbedRow row{layer, head, Vector(n)};
        for (int k = 0; k < n; ++k) {
          const float cell = map.cells[static_cast<std::size_t>(query * n + k)];
          row.weights[k] = std::isnan(cell) ? 0.0f : cell;
        }
        rows.push_back(std::move(row));
      }
    }
  }
  probe.hits = attnscope::probe(rows, key);
  return probe;
}

QString probeSummary(const AttentionSnapshot& snapshot, const SnapshotProbe& probe, int shown) {
  QStringList hits;
  for (int i = 0; i < std::min<int>(shown, static_cast<int>(probe.hits.size())); ++i) {
    const ProbeHit& hit = probe.hits[static_cast<std::size_t>(i)];
    const QString where = snapshot.model ? QStringLiteral("L%1 H%2").arg(hit.layer).arg(hit.head)
                                         : QStringLiteral("H%1").arg(hit.head);
    hits << QStringLiteral("%1 %2").arg(where).arg(hit.weight, 0, 'f', 2);
  }
  QString line = QStringLiteral("\u201c%1\u201d \u2192 \u201c%2\u201d: %3")
                     .arg(snapshot.tokenTexts.value(probe.query), snapshot.tokenTexts.value(probe.key),
                          hits.join(QStringLiteral(", ")));
  if (!probe.everyLayer)
    line += QStringLiteral(" (layer %1 only: a text this long keeps one layer's weights)")
                .arg(snapshot.model->layer);
  return line;
}

}  // namespace attnscope::ui
