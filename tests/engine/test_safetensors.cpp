// The safetensors reader: values of every float dtype, zero-copy where aligned, and one clear error naming
// the file and the problem for each way a header or its tensor table can be malformed or hostile.

#include <QTemporaryDir>
#include <QTest>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "../support/gpt2_checkpoint.hpp"
#include "attnscope/error.hpp"
#include "attnscope/safetensors.hpp"

using attnscope::Error;
using attnscope::SafetensorsDtype;
using attnscope::SafetensorsFile;
using namespace attnscope::testing;

namespace {

// A file from a header given as text and `data_bytes` bytes of data.
std::string raw_file(const std::string& header, std::size_t data_bytes = 0, std::uint64_t claimed = 0) {
  std::string file;
  append_little_endian(file, claimed ? claimed : static_cast<std::uint64_t>(header.size()));
  return file + header + std::string(data_bytes, '\0');
}

std::string one_tensor(const std::string& fields) {
  return "{\"t\":{" + fields + "}}";
}

std::span<const std::byte> as_bytes(const std::string& text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

// The message parse() throws for `file`, or "" when it accepts it.
std::string parse_error(const std::string& file) {
  try {
    SafetensorsFile::parse(as_bytes(file), "test.safetensors");
  } catch (const Error& error) {
    return error.what();
  }
  return {};
}

}  // namespace

class TestSafetensors : public QObject {
  Q_OBJECT

 private slots:
  void readsFloatDtypes() {
    const std::vector<float> values{1.0f, -2.5f, 0.099975586f, 65504.0f, -0.0f, 3.0517578e-05f};
    std::vector<float> as_half, as_bfloat;
    const std::vector<TensorBytes> tensors{
        {"a.f32", "F32", {2, 3}, encode_floats(values.data(), 6, "F32")},
        {"b.f16", "F16", {6}, encode_floats(values.data(), 6, "F16", &as_half)},
        {"c.bf16", "BF16", {3, 2}, encode_floats(values.data(), 6, "BF16", &as_bfloat)},
        {"d.ids", "I64", {2}, std::string(16, '\x01')},
        {"e.empty", "F32", {0, 4}, ""},
    };
    const std::string file = safetensors_file(tensors, {{"format", "pt"}, {"note", "é\"\\"}});
    const SafetensorsFile st = SafetensorsFile::parse(as_bytes(file), "x.safetensors");
    QCOMPARE(st.tensors().size(), std::size_t(5));
    QCOMPARE(st.metadata().at("format"), std::string("pt"));
    QCOMPARE(st.metadata().at("note"), std::string("é\"\\"));
    QVERIFY(st.find("nope") == nullptr);

    const auto* a = st.find("a.f32");
    QVERIFY(a);
    QCOMPARE(a->dtype, SafetensorsDtype::F32);
    QCOMPARE(a->shape, (std::vector<std::uint64_t>{2, 3}));
    const attnscope::FloatTensor fa = st.to_float(*a);
    QVERIFY(fa.zero_copy());  // the header is padded to 8 bytes, so the data is aligned
    QCOMPARE(fa.matrix().rows(), Eigen::Index(2));
    QCOMPARE(fa.matrix()(1, 0), 65504.0f);
    for (std::size_t i = 0; i < 6; ++i)
      QCOMPARE(std::bit_cast<std::uint32_t>(fa.data()[i]), std::bit_cast<std::uint32_t>(values[i]));

    const attnscope::FloatTensor fb = st.to_float(*st.find("b.f16"));
    QVERIFY(!fb.zero_copy());
    QCOMPARE(fb.matrix().rows(), Eigen::Index(1));
    for (std::size_t i = 0; i < 6; ++i) QCOMPARE(fb.data()[i], as_half[i]);
    QCOMPARE(fb.data()[0], 1.0f);
    QCOMPARE(fb.data()[3], 65504.0f);  // the largest half
    const attnscope::FloatTensor fc = st.to_float(*st.find("c.bf16"));
    for (std::size_t i = 0; i < 6; ++i) QCOMPARE(fc.data()[i], as_bfloat[i]);
    QCOMPARE(fc.data()[1], -2.5f);

    QCOMPARE(st.to_float(*st.find("e.empty")).size(), std::size_t(0));
    try {
      st.to_float(*st.find("d.ids"));
      QFAIL("an I64 tensor read as floats");
    } catch (const Error& error) {
      QCOMPARE(
          std::string(error.what()),
          std::string("x.safetensors: tensor 'd.ids' is I64; only F32, F16 and BF16 tensors can be read as "
                      "floats"));
    }
  }

  void misalignedFloat32IsCopied() {
    const std::vector<float> values{0.5f, 1.5f, -7.25f};
    // Unpadded, with metadata of the length that puts the data off a 4-byte boundary.
    std::string file;
    for (std::string pad; file.empty() || (file.size() - 12) % 4 == 0; pad += 'x')
      file = safetensors_file({{"w", "F32", {3}, encode_floats(values.data(), 3, "F32")}}, {{"pad", pad}}, 1);
    // Copy to an aligned buffer so that the misalignment is the file's, not std::string's.
    std::vector<std::uint64_t> storage(file.size() / 8 + 1);
    std::memcpy(storage.data(), file.data(), file.size());
    const SafetensorsFile st = SafetensorsFile::parse(
        {reinterpret_cast<const std::byte*>(storage.data()), file.size()}, "odd.safetensors");
    const attnscope::FloatTensor tensor = st.to_float(st.tensors().front());
    QVERIFY(!tensor.zero_copy());
    QCOMPARE(tensor.data()[2], -7.25f);
  }

  void halfAndBfloat16ConvertExactly() {
    for (std::uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
      const auto h = static_cast<std::uint16_t>(bits);
      const int sign = (h >> 15) ? -1 : 1;
      const int exponent = (h >> 10) & 0x1F;
      const int mantissa = h & 0x3FF;
      const float value = attnscope::half_to_float(h);
      if (exponent == 0x1F) {
        QVERIFY(mantissa ? std::isnan(value) : std::isinf(value));
        continue;
      }
      const double expected = exponent == 0 ? sign * std::ldexp(mantissa, -24)
                                            : sign * std::ldexp(1024 + mantissa, exponent - 25);
      if (double(value) != expected || std::signbit(value) != (sign < 0))
        QFAIL(qPrintable(QStringLiteral("half %1 gave %2").arg(bits, 4, 16).arg(double(value))));
      // The test writer's rounding (as torch's .half()) gives back the same bits.
      QCOMPARE(float_to_half(value), h);
    }
    // Round to nearest, ties to even, overflow to Inf.
    QCOMPARE(float_to_half(1.0f + std::ldexp(1.0f, -11)), std::uint16_t(0x3C00));  // tie, even stays
    QCOMPARE(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), std::uint16_t(0x3C02));
    QCOMPARE(float_to_half(65520.0f), std::uint16_t(0x7C00));
    QCOMPARE(float_to_half(65519.0f), std::uint16_t(0x7BFF));
    QCOMPARE(attnscope::bfloat16_to_float(0x3F80), 1.0f);
    QCOMPARE(attnscope::bfloat16_to_float(0xC020), -2.5f);
    QCOMPARE(float_to_bfloat16(1.0f + std::ldexp(1.0f, -8)), std::uint16_t(0x3F80));  // tie to even
    QCOMPARE(float_to_bfloat16(1.0f + 3 * std::ldexp(1.0f, -8)), std::uint16_t(0x3F82));
  }

  void emptyAndPaddedHeadersAreValid() {
    QCOMPARE(parse_error(raw_file("{}")), std::string());
    QCOMPARE(parse_error(raw_file("{}      ")), std::string());
    QCOMPARE(parse_error(raw_file("{\"__metadata__\":{}}")), std::string());
    QCOMPARE(parse_error(raw_file(one_tensor(R"("dtype":"U8","shape":[0],"data_offsets":[0,0])"))),
             std::string());
    QCOMPARE(parse_error(raw_file(one_tensor(R"("dtype":"F64","shape":[],"data_offsets":[0,8])"), 8)),
             std::string());
  }

  void rejectsMalformedFiles_data() {
    QTest::addColumn<QByteArray>("file");
    QTest::addColumn<QString>("message");
    const auto row = [](const char* name, const std::string& file, const char* message) {
      QTest::newRow(name) << QByteArray::fromStdString(file) << QString::fromUtf8(message);
    };
    row("empty", "", "0 bytes is too short for a safetensors file");
    row("seven bytes", std::string(7, '\0'), "7 bytes is too short");
    row("header too long", raw_file("{}", 0, 100'000'001),
        "the header length 100000001 is more than the 100000000");
    row("header length 2^64-1", raw_file("{}", 0, ~std::uint64_t{0}),
        "is more than the 100000000 bytes allowed");
    row("truncated header", raw_file("{}", 0, 50),
        "truncated: the header length is 50 bytes but only 2 follow");
    row("truncated data", raw_file(one_tensor(R"("dtype":"F32","shape":[4],"data_offsets":[0,16])"), 12),
        "data_offsets [0, 16] reach past the end of the data (12 bytes)");
    row("not JSON", raw_file("{nope}"), "the header is not valid JSON (byte ");
    row("empty header", raw_file(""), "the header is not valid JSON");
    row("trailing garbage", raw_file("{} {}"), "the header is not valid JSON");
    row("invalid UTF-8", raw_file("{\"\xff\":{}}"), "the header is not valid JSON");
    row("array", raw_file("[]"), "the header is an array, not a JSON object");
    row("number", raw_file("7"), "the header is a number, not a JSON object");
    row("tensor is a string", raw_file("{\"t\":\"x\"}"),
        "tensor 't' is a string, not an object with dtype, shape and data_offsets");
    row("unknown dtype", raw_file(one_tensor(R"("dtype":"F33","shape":[1],"data_offsets":[0,4])"), 4),
        "tensor 't': unknown dtype 'F33'");
    row("dtype number", raw_file(one_tensor(R"("dtype":4,"shape":[1],"data_offsets":[0,4])"), 4),
        "tensor 't': dtype is a number, not a string");
    row("negative dimension", raw_file(one_tensor(R"("dtype":"F32","shape":[-1],"data_offsets":[0,4])"), 4),
        "tensor 't': shape holds -1, which is negative");
    row("fractional dimension",
        raw_file(one_tensor(R"("dtype":"F32","shape":[1.5],"data_offsets":[0,4])"), 4),
        "tensor 't': shape holds '1.5', which is not an integer below 2^64");
    row("dimension past 2^64",
        raw_file(one_tensor(R"("dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,4])"), 4),
        "which is not an integer below 2^64");
    row("nested shape", raw_file(one_tensor(R"("dtype":"F32","shape":[[1]],"data_offsets":[0,4])"), 4),
        "tensor 't': shape holds an array, not a non-negative integer");
    row("shape not array", raw_file(one_tensor(R"("dtype":"F32","shape":1,"data_offsets":[0,4])"), 4),
        "tensor 't': shape is a number, not an array of integers");
    row("33 dimensions",
        raw_file(
            one_tensor(
                R"("dtype":"F32","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"data_offsets":[0,4])"),
            4),
        "tensor 't': shape has more than 32 dimensions");
    row("one offset", raw_file(one_tensor(R"("dtype":"F32","shape":[1],"data_offsets":[0])"), 4),
        "tensor 't': data_offsets must be [begin, end]: 2 numbers");
    row("three offsets", raw_file(one_tensor(R"("dtype":"F32","shape":[1],"data_offsets":[0,4,8])"), 8),
        "tensor 't': data_offsets must be [begin, end]: 2 numbers");
    row("negative offset", raw_file(one_tensor(R"("dtype":"F32","shape":[1],"data_offsets":[-4,0])"), 4),
        "tensor 't': data_offsets holds -4, which is negative");
    row("offsets reversed", raw_file(one_tensor(R"("dtype":"U8","shape":[4],"data_offsets":[4,0])"), 4),
        "tensor 't': data_offsets [4, 0] end before they begin");
    row("shape-offset mismatch", raw_file(one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[0,4])"), 4),
        "tensor 't': data_offsets [0, 4] span 4 bytes, but F32 of shape [2] takes 8");
    row("dtype-size mismatch", raw_file(one_tensor(R"("dtype":"F16","shape":[2],"data_offsets":[0,8])"), 8),
        "span 8 bytes, but F16 of shape [2] takes 4");
    row("element overflow",
        raw_file(one_tensor(R"("dtype":"U8","shape":[4294967296,4294967296,2],"data_offsets":[0,0])")),
        "tensor 't': shape [4294967296, 4294967296, 2] has more than 2^64 elements");
    row("byte overflow",
        raw_file(one_tensor(R"("dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0])")),
        "tensor 't': shape [4611686018427387904] of F32 needs more than 2^64 bytes");
    row("2^64 - 1 bytes",
        raw_file(one_tensor(
            R"("dtype":"U8","shape":[4294967295,4294967297],"data_offsets":[0,18446744073709551615])")),
        "data_offsets [0, 18446744073709551615] reach past the end of the data (0 bytes)");
    row("out of bounds",
        raw_file(
            R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
            4),
        "tensor 'b': data_offsets [4, 8] reach past the end of the data (4 bytes)");
    row("overlap",
        raw_file(
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            12),
        "tensor 'b' overlaps tensor 'a'");
    row("same span twice",
        raw_file(
            R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})",
            4),
        "overlaps");
    row("empty tensor inside another",
        raw_file(
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
            8),
        "tensor 'b' overlaps tensor 'a'");
    row("gap",
        raw_file(
            R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
            12),
        "bytes 4 to 8 of the data belong to no tensor (a gap before tensor 'b')");
    row("leading gap", raw_file(one_tensor(R"("dtype":"F32","shape":[1],"data_offsets":[4,8])"), 8),
        "bytes 0 to 4 of the data belong to no tensor");
    row("trailing bytes", raw_file(one_tensor(R"("dtype":"F32","shape":[1],"data_offsets":[0,4])"), 9),
        "bytes 4 to 9 at the end of the data belong to no tensor");
    row("data without tensors", raw_file("{}", 3), "bytes 0 to 3 at the end of the data belong to no tensor");
    row("duplicate tensor",
        raw_file(
            R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}})"),
        "tensor 'a' appears twice");
    row("duplicate field",
        raw_file(one_tensor(R"("dtype":"U8","dtype":"U8","shape":[0],"data_offsets":[0,0])")),
        "tensor 't': field 'dtype' appears twice");
    row("unknown field", raw_file(one_tensor(R"("dtype":"U8","shape":[0],"data_offsets":[0,0],"x":1)")),
        "tensor 't': unknown field 'x'");
    row("no dtype", raw_file(one_tensor(R"("shape":[0],"data_offsets":[0,0])")), "tensor 't': has no dtype");
    row("no shape", raw_file(one_tensor(R"("dtype":"U8","data_offsets":[0,0])")), "tensor 't': has no shape");
    row("no offsets", raw_file(one_tensor(R"("dtype":"U8","shape":[0])")), "tensor 't': has no data_offsets");
    row("metadata not object", raw_file(R"({"__metadata__":["pt"]})"),
        "'__metadata__' is an array, not an object of strings");
    row("metadata value not string", raw_file(R"({"__metadata__":{"format":1}})"),
        "'__metadata__' maps 'format' to a number, not a string");
    row("metadata nested", raw_file(R"({"__metadata__":{"format":{}}})"),
        "'__metadata__' maps 'format' to an object, not a string");
    row("metadata twice", raw_file(R"({"__metadata__":{},"__metadata__":{}})"),
        "'__metadata__' appears twice");
    row("metadata key twice", raw_file(R"({"__metadata__":{"a":"1","a":"2"}})"),
        "'__metadata__' has the key 'a' twice");
    row("control characters named safely", raw_file("{\"t\\u001b[2J\":{\"dtype\":\"F99\"}}"),
        "tensor 't\\x1b[2J': unknown dtype 'F99'");
  }

  void rejectsMalformedFiles() {
    QFETCH(QByteArray, file);
    QFETCH(QString, message);
    const std::string error = parse_error(file.toStdString());
    QVERIFY2(!error.empty(), "accepted");
    QVERIFY2(error.starts_with("test.safetensors: "), error.c_str());
    QVERIFY2(QString::fromStdString(error).contains(message), error.c_str());
    QVERIFY2(error.find('\n') == std::string::npos && error.size() < 400, error.c_str());
  }

  // A file parse()d from memory is the caller's: letting a tensor's pages go leaves them as they are (the
  // mapped case is in opensFilesByMapping). 32 KB of values span whole pages, which madvise would zero.
  void releaseLeavesParsedMemoryAlone() {
    std::vector<float> values(8192);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) + 0.5f;
    const std::string file =
        safetensors_file({{"w", "F32", {8192}, encode_floats(values.data(), 8192, "F32")}});
    const SafetensorsFile parsed = SafetensorsFile::parse(as_bytes(file), "memory.safetensors");
    const attnscope::FloatTensor w = parsed.to_float(*parsed.find("w"));
    QVERIFY(w.zero_copy());
    parsed.release(*parsed.find("w"));
    for (std::size_t i = 0; i < values.size(); ++i) QCOMPARE(w.data()[i], values[i]);
  }

  void opensFilesByMapping() {
    QTemporaryDir directory;
    const std::filesystem::path dir = directory.path().toStdString();
    const std::vector<float> values{1.0f, 2.0f, 3.0f, 4.0f};
    write_file(dir / "ok.safetensors",
               safetensors_file({{"w", "F32", {2, 2}, encode_floats(values.data(), 4, "F32")}}));
    attnscope::FloatTensor tensor;
    {
      const SafetensorsFile file = SafetensorsFile::open(dir / "ok.safetensors");
      QCOMPARE(file.name(), std::string("ok.safetensors"));
      tensor = file.to_float(*file.find("w"));
      QVERIFY(tensor.zero_copy());
    }
    QCOMPARE(tensor.matrix()(1, 1), 4.0f);  // the tensor keeps the mapping alive

    // Converted tensors let their pages go from the mapping; reading them again, and their zero-copy
    // neighbours sharing a page, still gives the file's values.
    std::vector<float> many(5000);
    for (std::size_t i = 0; i < many.size(); ++i) many[i] = static_cast<float>(i % 1000) / 8.0f;
    std::vector<float> as_half;
    write_file(dir / "mixed.safetensors",
               safetensors_file({{"a", "F32", {3}, encode_floats(many.data(), 3, "F32")},
                                 {"h", "F16", {5000}, encode_floats(many.data(), 5000, "F16", &as_half)},
                                 {"z", "F32", {2000}, encode_floats(many.data(), 2000, "F32")}}));
    const SafetensorsFile mixed = SafetensorsFile::open(dir / "mixed.safetensors");
    for (const auto& t : mixed.tensors()) mixed.prefault(t);
    for (int pass = 0; pass < 2; ++pass) {
      const attnscope::FloatTensor h = mixed.to_float(*mixed.find("h"));
      for (std::size_t i = 0; i < as_half.size(); ++i) QCOMPARE(h.data()[i], as_half[i]);
    }
    const attnscope::FloatTensor z = mixed.to_float(*mixed.find("z"));
    QVERIFY(z.zero_copy());
    for (std::size_t i = 0; i < 2000; ++i) QCOMPARE(z.data()[i], many[i]);
    // A zero-copy tensor whose pages a caller let go (it keeps its own copy) reads the file's values again.
    mixed.release(*mixed.find("z"));
    for (std::size_t i = 0; i < 2000; ++i) QCOMPARE(z.data()[i], many[i]);
    QCOMPARE(mixed.to_float(*mixed.find("a")).data()[2], many[2]);

    const auto open_error = [&](const std::filesystem::path& path) -> std::string {
      try {
        SafetensorsFile::open(path);
      } catch (const Error& error) {
        return error.what();
      }
      return {};
    };
    QCOMPARE(open_error(dir / "missing.safetensors"), std::string("missing.safetensors: no such file"));
    QCOMPARE(open_error(dir),
             std::string(std::filesystem::path(dir).filename().string() + ": not a regular file"));
    write_file(dir / "empty.safetensors", "");
    QVERIFY(open_error(dir / "empty.safetensors").starts_with("empty.safetensors: 0 bytes is too short"));
    const std::string whole =
        safetensors_file({{"w", "F32", {2, 2}, encode_floats(values.data(), 4, "F32")}});
    write_file(dir / "cut.safetensors", whole.substr(0, whole.size() - 3));
    QVERIFY2(open_error(dir / "cut.safetensors")
                 .starts_with("cut.safetensors: tensor 'w': data_offsets [0, 16] reach past"),
             open_error(dir / "cut.safetensors").c_str());
    write_file(dir / "cut-header.safetensors", whole.substr(0, 20));
    QVERIFY(open_error(dir / "cut-header.safetensors").starts_with("cut-header.safetensors: truncated"));
  }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
