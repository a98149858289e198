#include "compute/comparison.hpp"

#include <cmath>
#include <limits>

namespace attnscope::ui {

double Comparison::largestDifference() const {
  double largest = 0.0;
  for (const auto& heads : rows)
    for (const HeadComparison& head : heads)
      if (head.weights_diff.size() > 0)
        largest = std::max(largest, static_cast<double>(head.weights_diff.cwiseAbs().maxCoeff()));
  return largest;
}

ComparisonPointer compareSnapshots(SnapshotPointer a, SnapshotPointer b) {
  auto comparison = std::make_shared<Comparison>();
  const int layer = a->model ? a->model->layer : 0;
  for (int row = 0; row < a->maskCount(); ++row)
    comparison->rows.push_back(compare_heads(*a->rows[row].result, *b->rows[row].result, layer));
  comparison->a = std::move(a);
  comparison->b = std::move(b);
  return comparison;
}

ComparisonPointer failedComparison(SnapshotPointer a, const QString& problem) {
  auto comparison = std::make_shared<Comparison>();
  comparison->a = std::move(a);
  comparison->problem = problem;
  return comparison;
}

ViewSettings inputBSettings(const ViewSettings& settings) {
  ViewSettings b = settings;
  b.text = settings.compareText.value_or(QString());
  b.compareText.reset();
  return b;
}

SnapshotPointer computeInputB(const ViewSettings& settings, const InputBResources& resources,
                              const CancelToken& cancel, FieldNames names) {
  const ViewSettings b = inputBSettings(settings);
  PreparedMaps keepEverything;
  keepEverything.keptBytes = std::numeric_limits<double>::infinity();
  if (!b.modelFolder.isEmpty())
    return computeModelSnapshot(b, *resources.model, cancel, keepEverything, names, resources.modelCache);
  // A's text too: the words B shares with A keep A's embeddings (compared_embeddings).
  const AttentionInput input = AttentionInput::fromSettings(b, names, settings.text);
  if (input.tokens.empty()) return nullptr;
  return computeSnapshot(input, *resources.backend, cancel, keepEverything, resources.parameters,
                         resources.earlier);
}

}  // namespace attnscope::ui
