#include "state/view_settings.hpp"

#include <QJsonArray>
#include <algorithm>
#include <cmath>
#include <string>

#include "attnscope/embeddings.hpp"
#include "attnscope/error.hpp"
#include "attnscope/quote.hpp"
#include "text.hpp"

namespace attnscope::ui {
namespace {

// JSON numbers are doubles: seeds above 2^53 are written as decimal strings so they survive the trip.
constexpr std::uint64_t kLargestExactDouble = std::uint64_t{1} << 53;

QJsonValue seedToJson(std::uint64_t seed) {
  if (seed <= kLargestExactDouble) return QJsonValue(static_cast<double>(seed));
  return QJsonValue(QString::number(seed));
}

QJsonValue optionalSeedToJson(const std::optional<std::uint64_t>& seed) {
  return seed ? seedToJson(*seed) : QJsonValue(QJsonValue::Null);
}

[[noreturn]] void fail(const QString& field, const QString& problem) {
  throw Error(QStringLiteral("setting '%1' %2").arg(field, problem).toStdString());
}

std::uint64_t seedFromJson(const QJsonValue& value, const QString& field) {
  if (value.isDouble()) {
    const double number = value.toDouble();
    if (number >= 0 && number <= static_cast<double>(kLargestExactDouble) && std::floor(number) == number)
      return static_cast<std::uint64_t>(number);
  } else if (value.isString()) {
    bool ok = false;
    const std::uint64_t seed = value.toString().toULongLong(&ok);
    if (ok) return seed;
  }
  fail(field, QStringLiteral("must be a whole number from 0 to 2^64 - 1"));
}

std::optional<std::uint64_t> optionalSeedFromJson(const QJsonValue& value, const QString& field) {
  if (value.isNull() || value.isUndefined()) return std::nullopt;
  return seedFromJson(value, field);
}

int intFromJson(const QJsonValue& value, const QString& field, int minimum, int maximum) {
  const double number = value.toDouble(-1.0);
  if (!value.isDouble() || std::floor(number) != number || number < minimum || number > maximum)
    fail(field, QStringLiteral("must be a whole number from %1 to %2").arg(minimum).arg(maximum));
  return static_cast<int>(number);
}

QString stringFromJson(const QJsonValue& value, const QString& field) {
  if (!value.isString()) fail(field, QStringLiteral("must be a string"));
  return value.toString();
}

bool boolFromJson(const QJsonValue& value, const QString& field) {
  if (!value.isBool()) fail(field, QStringLiteral("must be true or false"));
  return value.toBool();
}

// Runs one of the engine's parsers on a string field and names the field when it throws.
template <typename Parse>
auto parseField(const QJsonValue& value, const QString& field, Parse parse) {
  const std::string text = stringFromJson(value, field).toStdString();
  try {
    return parse(text);
  } catch (const Error& error) {
    fail(field, QStringLiteral("is invalid: %1").arg(QString::fromStdString(error.what())));
  }
}

Quantity parseQuantity(const std::string& name) {
  for (const Quantity quantity : allQuantities())
    if (slugOf(quantity).toStdString() == name) return quantity;
  throw Error("unknown quantity " + quote(name) +
              " (expected scores, scaled-scores, weights or dropout-weights)");
}

ColorMapId parseColorMap(const std::string& name) {
  for (const ColorMapId id : {ColorMapId::viridis, ColorMapId::magma, ColorMapId::cividis})
    if (toString(id).toStdString() == name) return id;
  throw Error("unknown colour map " + quote(name) + " (expected viridis, magma or cividis)");
}

HeadSummary parseHeadSummary(const std::string& name) {
  for (const HeadSummary summary :
       {HeadSummary::none, HeadSummary::mean, HeadSummary::max, HeadSummary::rollout})
    if (toString(summary).toStdString() == name) return summary;
  throw Error("unknown head summary " + quote(name) + " (expected none, mean, max or rollout)");
}

Reduction parseReduction(const std::string& name) {
  for (const Reduction reduction : {Reduction::max, Reduction::mean})
    if (toString(reduction).toStdString() == name) return reduction;
  throw Error("unknown reduction " + quote(name) + " (expected max or mean)");
}

}  // namespace

QString toString(EmbeddingSource source) {
  return toQString(to_string(source));
}

ViewSettings ViewSettings::defaults() {
  ViewSettings settings;
  settings.text = QString::fromStdString(book_preset().text);
  settings.masks = {MaskSpec{MaskKind::none, 0, {}}, MaskSpec{MaskKind::causal, 0, {}}};
  return settings;
}

ComputeRequest ViewSettings::request() const {
  ComputeRequest request;
  request.text = text.toStdString();
  request.tokenizer = tokenizer;
  request.embedding_source = embeddingSource;
  request.d_in = dIn;
  request.embedding_seed = embeddingSeed;
  request.embeddings_file = embeddingsFile.toStdString();
  request.mechanism = mechanism;
  request.d_out = dOut;
  request.heads = heads;
  request.qkv_bias = qkvBias;
  request.dropout = dropout;
  request.seed = seed;
  request.dropout_seed = dropoutSeed;
  request.normalization = normalization;
  request.masks = masks;
  request.device = device;
  request.max_tokens = maxTokens;
  request.model = modelFolder.toStdString();
  if (!modelFolder.isEmpty()) request.layers = std::to_string(layer);
  return request;
}

void ViewSettings::setRequest(const ComputeRequest& request) {
  text = QString::fromStdString(request.text);
  tokenizer = request.tokenizer;
  embeddingSource = request.embedding_source;
  dIn = request.d_in;
  embeddingSeed = request.embedding_seed;
  embeddingsFile = QString::fromStdString(request.embeddings_file);
  mechanism = request.mechanism;
  dOut = request.d_out;
  heads = request.heads;
  qkvBias = request.qkv_bias;
  dropout = request.dropout;
  seed = request.seed;
  dropoutSeed = request.dropout_seed;
  normalization = request.normalization;
  masks = request.masks;
  device = request.device;
  maxTokens = request.max_tokens;
  modelFolder = QString::fromStdString(request.model);
}

bool ViewSettings::sameComputation(const ViewSettings& other) const {
  return request() == other.request() && compareText == other.compareText;
}

QJsonObject ViewSettings::toJson() const {
  QJsonObject json;
  json[QStringLiteral("text")] = text;
  json[QStringLiteral("tokenizer")] = toQString(to_string(tokenizer));
  QJsonObject embeddings;
  embeddings[QStringLiteral("source")] = toString(embeddingSource);
  embeddings[QStringLiteral("d_in")] = dIn;
  embeddings[QStringLiteral("seed")] = optionalSeedToJson(embeddingSeed);
  embeddings[QStringLiteral("file")] = embeddingsFile;
  json[QStringLiteral("embeddings")] = embeddings;
  json[QStringLiteral("mechanism")] = toQString(to_string(mechanism));
  json[QStringLiteral("d_out")] = dOut;
  json[QStringLiteral("heads")] = heads;
  json[QStringLiteral("seed")] = seedToJson(seed);
  json[QStringLiteral("dropout")] = dropout;
  json[QStringLiteral("dropout_seed")] = optionalSeedToJson(dropoutSeed);
  json[QStringLiteral("qkv_bias")] = qkvBias;
  json[QStringLiteral("normalize")] = toQString(to_string(normalization));
  QJsonArray maskArray;
  for (const MaskSpec& mask : masks) maskArray.append(QString::fromStdString(mask.to_string()));
  json[QStringLiteral("masks")] = maskArray;
  QJsonArray show;
  for (const Quantity quantity : display.quantities) show.append(slugOf(quantity));
  json[QStringLiteral("show")] = show;
  json[QStringLiteral("color_map")] = toString(display.colorMap);
  json[QStringLiteral("color_range")] =
      display.sharedRange ? QStringLiteral("shared") : QStringLiteral("per-map");
  json[QStringLiteral("device")] = toQString(to_string(device));
  json[QStringLiteral("reduction")] = toString(display.reduction);
  json[QStringLiteral("model")] = modelFolder;
  json[QStringLiteral("layer")] = layer;
  json[QStringLiteral("head_summary")] = toString(display.headSummary);
  json[QStringLiteral("stat_readouts")] = display.statReadouts;
  json[QStringLiteral("compare_text")] = compareText ? QJsonValue(*compareText) : QJsonValue();
  json[QStringLiteral("compare_view")] = toString(display.compareView);
  return json;
}

ViewSettings ViewSettings::fromJson(const QJsonObject& json) {
  ViewSettings settings = defaults();
  const auto has = [&json](const char* key) { return json.contains(QLatin1String(key)); };
  if (has("text")) settings.text = stringFromJson(json[QStringLiteral("text")], QStringLiteral("text"));
  if (has("tokenizer"))
    settings.tokenizer = parseField(json[QStringLiteral("tokenizer")], QStringLiteral("tokenizer"),
                                    [](const std::string& s) { return parse_tokenizer(s); });
  if (has("embeddings")) {
    const QJsonValue value = json[QStringLiteral("embeddings")];
    if (!value.isObject()) fail(QStringLiteral("embeddings"), QStringLiteral("must be an object"));
    const QJsonObject embeddings = value.toObject();
    if (embeddings.contains(QLatin1String("source")))
      settings.embeddingSource =
          parseField(embeddings[QStringLiteral("source")], QStringLiteral("embeddings.source"),
                     [](const std::string& s) { return parse_embedding_source(s); });
    if (embeddings.contains(QLatin1String("d_in")))
      settings.dIn =
          intFromJson(embeddings[QStringLiteral("d_in")], QStringLiteral("embeddings.d_in"), 1, 4096);
    if (embeddings.contains(QLatin1String("seed")))
      settings.embeddingSeed =
          optionalSeedFromJson(embeddings[QStringLiteral("seed")], QStringLiteral("embeddings.seed"));
    if (embeddings.contains(QLatin1String("file")))
      settings.embeddingsFile =
          stringFromJson(embeddings[QStringLiteral("file")], QStringLiteral("embeddings.file"));
  }
  if (has("mechanism"))
    settings.mechanism = parseField(json[QStringLiteral("mechanism")], QStringLiteral("mechanism"),
                                    [](const std::string& s) { return parse_mechanism(s); });
  if (has("d_out"))
    settings.dOut = intFromJson(json[QStringLiteral("d_out")], QStringLiteral("d_out"), 0, 4096);
  if (has("heads"))
    settings.heads = intFromJson(json[QStringLiteral("heads")], QStringLiteral("heads"), 1, 256);
  if (has("seed")) settings.seed = seedFromJson(json[QStringLiteral("seed")], QStringLiteral("seed"));
  if (has("dropout")) {
    const QJsonValue value = json[QStringLiteral("dropout")];
    if (!value.isDouble() || !(value.toDouble() >= 0.0 && value.toDouble() < 1.0))
      fail(QStringLiteral("dropout"), QStringLiteral("must be a number in [0, 1)"));
    settings.dropout = value.toDouble();
  }
  if (has("dropout_seed"))
    settings.dropoutSeed =
        optionalSeedFromJson(json[QStringLiteral("dropout_seed")], QStringLiteral("dropout_seed"));
  if (has("qkv_bias"))
    settings.qkvBias = boolFromJson(json[QStringLiteral("qkv_bias")], QStringLiteral("qkv_bias"));
  if (has("normalize"))
    settings.normalization = parseField(json[QStringLiteral("normalize")], QStringLiteral("normalize"),
                                        [](const std::string& s) { return parse_normalization(s); });
  if (has("masks")) {
    const QJsonValue value = json[QStringLiteral("masks")];
    if (!value.isArray()) fail(QStringLiteral("masks"), QStringLiteral("must be a list of masks"));
    settings.masks.clear();
    for (const QJsonValue mask : value.toArray())
      settings.masks.push_back(
          parseField(mask, QStringLiteral("masks"), [](const std::string& s) { return MaskSpec::parse(s); }));
  }
  if (has("show")) {
    const QJsonValue value = json[QStringLiteral("show")];
    if (!value.isArray()) fail(QStringLiteral("show"), QStringLiteral("must be a list of quantities"));
    std::vector<bool> wanted(allQuantities().size(), false);
    for (const QJsonValue quantity : value.toArray())
      wanted[static_cast<std::size_t>(parseField(quantity, QStringLiteral("show"), parseQuantity))] = true;
    settings.display.quantities.clear();
    for (const Quantity quantity : allQuantities())
      if (wanted[static_cast<std::size_t>(quantity)]) settings.display.quantities.push_back(quantity);
  }
  if (has("color_map"))
    settings.display.colorMap =
        parseField(json[QStringLiteral("color_map")], QStringLiteral("color_map"), parseColorMap);
  if (has("color_range")) {
    const QString range = stringFromJson(json[QStringLiteral("color_range")], QStringLiteral("color_range"));
    if (range != QLatin1String("shared") && range != QLatin1String("per-map"))
      fail(QStringLiteral("color_range"), QStringLiteral("must be shared or per-map"));
    settings.display.sharedRange = range == QLatin1String("shared");
  }
  if (has("device"))
    settings.device = parseField(json[QStringLiteral("device")], QStringLiteral("device"),
                                 [](const std::string& s) { return parse_device(s); });
  if (has("reduction"))
    settings.display.reduction =
        parseField(json[QStringLiteral("reduction")], QStringLiteral("reduction"), parseReduction);
  if (has("model"))
    settings.modelFolder = stringFromJson(json[QStringLiteral("model")], QStringLiteral("model"));
  if (has("layer"))
    settings.layer = intFromJson(json[QStringLiteral("layer")], QStringLiteral("layer"), 0, 4096);
  if (has("head_summary"))
    settings.display.headSummary =
        parseField(json[QStringLiteral("head_summary")], QStringLiteral("head_summary"), parseHeadSummary);
  if (has("stat_readouts"))
    settings.display.statReadouts =
        boolFromJson(json[QStringLiteral("stat_readouts")], QStringLiteral("stat_readouts"));
  if (has("compare_text") && !json[QStringLiteral("compare_text")].isNull())
    settings.compareText =
        stringFromJson(json[QStringLiteral("compare_text")], QStringLiteral("compare_text"));
  if (has("compare_view")) {
    const QString view = stringFromJson(json[QStringLiteral("compare_view")], QStringLiteral("compare_view"));
    if (view != toString(CompareView::difference) && view != toString(CompareView::aBAndDifference))
      fail(QStringLiteral("compare_view"), QStringLiteral("must be difference or a-b-difference"));
    settings.display.compareView =
        view == toString(CompareView::difference) ? CompareView::difference : CompareView::aBAndDifference;
  }
  return settings;
}

}  // namespace attnscope::ui
