// The generator against PyTorch 1.13's own draws (tests/golden/random.json, made by make_golden.py) and the
// dropout mask the book prints.

#include <QTest>

#include "../support/test_support.hpp"
#include "attnscope/torch_random.hpp"

using namespace attnscope;
using namespace attnscope::testing;

namespace {

// Box–Muller in PyTorch's AVX2 path uses its own log/sin/cos approximations; with a radius up to about 4 they
// differ from libm by up to about 1e-6 absolute, so normals compare at 2e-6 · (|expected| + 1).
constexpr double kNormalTolerance = 2e-6;
constexpr double kNormalFloor = 1.0;

QJsonArray cases(const char* kind) {
  return read_json_object(golden_path("random.json"))[kind].toArray();
}

}  // namespace

class TestTorchRandom : public QObject {
  Q_OBJECT

 private slots:
  void randIsBitExact() {
    const QJsonArray all = cases("rand");
    QVERIFY(!all.isEmpty());
    for (const auto& value : all) {
      const QJsonObject c = value.toObject();
      TorchGenerator generator(c["seed"].toInteger());
      const Matrix drawn = generator.rand(c["rows"].toInt(), c["cols"].toInt());
      ATTNSCOPE_COMPARE_EXACT(drawn, to_matrix(c["values"]),
                              QStringLiteral("rand %1×%2").arg(c["rows"].toInt()).arg(c["cols"].toInt()));
    }
  }

  void linearInitIsBitExact() {
    for (const auto& value : cases("linear")) {
      const QJsonObject c = value.toObject();
      TorchGenerator generator(c["seed"].toInteger());
      compare_linear(generator.linear(c["in"].toInt(), c["out"].toInt(), c["bias"].toBool()), c);
    }
  }

  void embeddingInitBothPaths() {
    for (const auto& value : cases("embedding")) {
      const QJsonObject c = value.toObject();
      TorchGenerator generator(c["seed"].toInteger());
      const Matrix weight = generator.embedding(c["num"].toInt(), c["dim"].toInt());
      ATTNSCOPE_COMPARE_MATRIX(weight, to_matrix(c["weight"]), kNormalTolerance, kNormalFloor,
                               QStringLiteral("embedding %1×%2").arg(c["num"].toInt()).arg(c["dim"].toInt()));
    }
  }

  void dropoutMaskIsBitExact() {
    for (const auto& value : cases("dropout")) {
      const QJsonObject c = value.toObject();
      TorchGenerator generator(c["seed"].toInteger());
      const int rows = c["rows"].toInt(), cols = c["cols"].toInt();
      const std::vector<float> noise = generator.dropout_noise(std::size_t(rows * cols), c["p"].toDouble());
      ATTNSCOPE_COMPARE_EXACT(Matrix(Eigen::Map<const Matrix>(noise.data(), rows, cols)),
                              to_matrix(c["values"]), QStringLiteral("dropout %1×%2").arg(rows).arg(cols));
    }
  }

  void bookDropoutExample() {
    const QJsonObject book = read_json_object(golden_path("book-chapter3.json"));
    TorchGenerator generator(123);
    const std::vector<float> noise = generator.dropout_noise(36, 0.5);
    ATTNSCOPE_COMPARE_EXACT(Matrix(Eigen::Map<const Matrix>(noise.data(), 6, 6)),
                            to_matrix(book["dropout_seed_123"]["result"]), "the book's dropout mask");
  }

  // Draws continue across calls exactly as PyTorch's generator does, the cached normal sample included.
  void sequencesContinueTheStream() {
    int checked = 0;
    for (const auto& value : cases("sequence")) {
      const QJsonObject c = value.toObject();
      const QString kind = c["kind"].toString();
      TorchGenerator generator(c["seed"].toInteger());
      if (kind == "rand-rand") {
        ATTNSCOPE_COMPARE_EXACT(generator.rand(2, 3), to_matrix(c["first"]), "first rand");
        ATTNSCOPE_COMPARE_EXACT(generator.rand(4, 1), to_matrix(c["second"]), "second rand");
      } else if (kind == "linear-linear") {
        compare_linear(generator.linear(3, 2, true), c["first"].toObject());
        compare_linear(generator.linear(4, 5, false), c["second"].toObject());
      } else if (kind == "linear-x4") {
        for (const char* name : {"first", "second", "third"})
          compare_linear(generator.linear(3, 2, false), c[name].toObject());
        compare_linear(generator.linear(2, 2, true), c["fourth"].toObject());
      } else if (kind == "embedding-embedding-embedding") {
        compare_normal(generator.embedding(3, 2), c["first"]);
        compare_normal(generator.embedding(5, 4), c["second"]);
        compare_normal(generator.embedding(2, 3), c["third"]);
      } else if (kind == "embedding-normal-cache") {
        compare_normal(generator.embedding(3, 1), c["first"]);
        compare_normal(generator.embedding(4, 4), c["second"]);
        ATTNSCOPE_COMPARE_EXACT(generator.rand(1, 2), to_row(c["third"]), "rand after normals");
        compare_normal(generator.embedding(1, 1), c["fourth"]);  // the sample cached by the first table
        compare_normal(generator.embedding(1, 3), c["fifth"]);
      } else if (kind == "rand-dropout-rand") {
        ATTNSCOPE_COMPARE_EXACT(generator.rand(1, 3), to_row(c["first"]), "rand before dropout");
        const std::vector<float> noise = generator.dropout_noise(8, 0.5);
        ATTNSCOPE_COMPARE_EXACT(Matrix(Eigen::Map<const Matrix>(noise.data(), 2, 4)), to_matrix(c["second"]),
                                "dropout between rands");
        ATTNSCOPE_COMPARE_EXACT(generator.rand(1, 2), to_row(c["third"]), "rand after dropout");
      } else {
        QFAIL(qPrintable("unknown sequence kind " + kind));
      }
      ++checked;
    }
    QCOMPARE(checked, 6);
  }

  void manualSeedRestarts() {
    TorchGenerator generator(7);
    const Matrix first = generator.rand(3, 3);
    generator.normal_double(0, 1);  // leaves a cached sample behind
    generator.manual_seed(7);
    ATTNSCOPE_COMPARE_EXACT(generator.rand(3, 3), first, "rand after manual_seed");
    TorchGenerator fresh(7);
    fresh.rand(3, 3);
    QCOMPARE(generator.normal_double(0, 1), fresh.normal_double(0, 1));
  }

 private:
  static void compare_linear(const LinearLayer& layer, const QJsonObject& expected) {
    ATTNSCOPE_COMPARE_EXACT(layer.weight, to_matrix(expected["weight"]), "linear weight");
    QCOMPARE(layer.bias.has_value(), !expected["bias_values"].isNull());
    if (layer.bias)
      ATTNSCOPE_COMPARE_EXACT(Matrix(*layer.bias), to_row(expected["bias_values"]), "linear bias");
  }

  static void compare_normal(const Matrix& drawn, const QJsonValue& expected) {
    ATTNSCOPE_COMPARE_MATRIX(drawn, to_matrix(expected), kNormalTolerance, kNormalFloor, "normal draws");
  }
};

QTEST_GUILESS_MAIN(TestTorchRandom)
#include "test_torch_random.moc"
