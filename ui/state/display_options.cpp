#include "state/display_options.hpp"

namespace attnscope::ui {

const std::vector<Quantity>& allQuantities() {
  static const std::vector<Quantity> quantities{Quantity::rawScores, Quantity::scaledScores,
                                                Quantity::weights, Quantity::dropoutWeights};
  return quantities;
}

QString toString(Quantity quantity) {
  switch (quantity) {
    case Quantity::rawScores:
      return QStringLiteral("raw scores");
    case Quantity::scaledScores:
      return QStringLiteral("scaled scores");
    case Quantity::weights:
      return QStringLiteral("weights");
    case Quantity::dropoutWeights:
      return QStringLiteral("dropout weights");
  }
  return {};
}

QString colorScaleLabel(Quantity quantity) {
  switch (quantity) {
    case Quantity::rawScores:
      return QStringLiteral("score q\u00b7k");
    case Quantity::scaledScores:
      return QStringLiteral("scaled score");
    case Quantity::weights:
      return QStringLiteral("weight");
    case Quantity::dropoutWeights:
      return QStringLiteral("weight after dropout");
  }
  return {};
}

QString slugOf(Quantity quantity) {
  switch (quantity) {
    case Quantity::rawScores:
      return QStringLiteral("scores");
    case Quantity::scaledScores:
      return QStringLiteral("scaled-scores");
    case Quantity::weights:
      return QStringLiteral("weights");
    case Quantity::dropoutWeights:
      return QStringLiteral("dropout-weights");
  }
  return {};
}

QString toString(ColorMapId colorMap) {
  switch (colorMap) {
    case ColorMapId::viridis:
      return QStringLiteral("viridis");
    case ColorMapId::magma:
      return QStringLiteral("magma");
    case ColorMapId::cividis:
      return QStringLiteral("cividis");
  }
  return QStringLiteral("viridis");
}

QString toString(Reduction reduction) {
  return reduction == Reduction::mean ? QStringLiteral("mean") : QStringLiteral("max");
}

QString toString(HeadSummary summary) {
  switch (summary) {
    case HeadSummary::none:
      return QStringLiteral("none");
    case HeadSummary::mean:
      return QStringLiteral("mean");
    case HeadSummary::max:
      return QStringLiteral("max");
    case HeadSummary::rollout:
      return QStringLiteral("rollout");
  }
  return QStringLiteral("none");
}

bool isScore(Quantity quantity) {
  return quantity == Quantity::rawScores || quantity == Quantity::scaledScores;
}

QString toString(CompareView view) {
  return view == CompareView::difference ? QStringLiteral("difference") : QStringLiteral("a-b-difference");
}

}  // namespace attnscope::ui
