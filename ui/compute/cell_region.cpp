#include "compute/cell_region.hpp"

#include <algorithm>

namespace attnscope::ui {
namespace {

int blockFor(int tokens, int pixels) {
  if (pixels <= 0 || tokens <= pixels) return 1;
  return (tokens + pixels - 1) / pixels;
}

}  // namespace

CellRegion CellRegion::fitting(int n, int keyBegin, int keyEnd, int queryBegin, int queryEnd, int keyPixels,
                               int queryPixels, Reduction reduction) {
  CellRegion region;
  region.reduction = reduction;
  const auto fit = [n](int begin, int end, int pixels, int* outBegin, int* outEnd, int* outBlock) {
    begin = std::clamp(begin, 0, n);
    end = std::clamp(end, begin, n);
    const int block = blockFor(end - begin, pixels);
    begin = begin / block * block;
    const int blocks = (end - begin + block - 1) / block;
    *outBegin = begin;
    *outEnd = std::min(n, begin + blocks * block);
    *outBlock = block;
  };
  fit(keyBegin, keyEnd, keyPixels, &region.keyBegin, &region.keyEnd, &region.keyBlock);
  fit(queryBegin, queryEnd, queryPixels, &region.queryBegin, &region.queryEnd, &region.queryBlock);
  return region;
}

bool CellRegion::serves(const CellRegion& wanted) const {
  if (isEmpty()) return false;
  // The reduction only matters where cells are reduced.
  if (reduction != wanted.reduction && (isReduced() || wanted.isReduced())) return false;
  const bool covers = keyBegin <= wanted.keyBegin && keyEnd >= wanted.keyEnd &&
                      queryBegin <= wanted.queryBegin && queryEnd >= wanted.queryEnd;
  const auto fineEnough = [](int have, int want) { return have <= want && have * 2 >= want; };
  return covers && fineEnough(keyBlock, wanted.keyBlock) && fineEnough(queryBlock, wanted.queryBlock);
}

QString CellRegion::note() const {
  if (!isReduced()) return {};
  return QStringLiteral("%1 of %2\u00d7%3 cells").arg(toString(reduction)).arg(keyBlock).arg(queryBlock);
}

}  // namespace attnscope::ui
