// The three tokenizers on ASCII, punctuation, white space, accents, emoji, CJK and right-to-left scripts; the
// byte and code-point spans of every token; and the rejection of invalid UTF-8.

#include <QTest>
#include <initializer_list>
#include <string>
#include <vector>

#include "attnscope/error.hpp"
#include "attnscope/tokenizer.hpp"

using attnscope::Token;
using attnscope::TokenizerKind;

namespace {

constexpr const char* kBookSentence = "Your journey starts with one step";

// Every character of an ASCII string as its own token.
QStringList each_ascii_char(const char* text) {
  QStringList list;
  for (const char* c = text; *c != '\0'; ++c) list << QString(QChar::fromLatin1(*c));
  return list;
}

QStringList texts_of(const std::vector<Token>& tokens) {
  QStringList list;
  for (const auto& token : tokens) list << QString::fromStdString(token.text);
  return list;
}

qsizetype code_points_in(const QByteArray& utf8) {
  return QString::fromUtf8(utf8).toUcs4().size();
}

std::vector<Token> tokenize(const QByteArray& text, const QByteArray& kind) {
  return attnscope::tokenize(std::string_view(text.constData(), static_cast<std::size_t>(text.size())),
                             attnscope::parse_tokenizer(kind.toStdString()));
}

}  // namespace

class TestTokenizer : public QObject {
  Q_OBJECT

 private slots:
  void tokenize_data();
  void tokenize();
  void spansPointBackIntoTheSource_data() { tokenize_data(); }
  void spansPointBackIntoTheSource();
  void charsCoverTheWholeText_data();
  void charsCoverTheWholeText();
  void spansCountBytesAndCodePoints();
  void readsOnlyTheGivenView();
  void invalidUtf8NamesTheByte_data();
  void invalidUtf8NamesTheByte();
  void namesRoundTrip();
  void unknownNameIsAnError_data();
  void unknownNameIsAnError();
};

void TestTokenizer::tokenize_data() {
  QTest::addColumn<QByteArray>("text");
  QTest::addColumn<QByteArray>("kind");
  QTest::addColumn<QStringList>("expected");

  const auto row = [](const char* name, const char* kind, const char* text, const QStringList& expected) {
    QTest::addRow("%s/%s", kind, name) << QByteArray(text) << QByteArray(kind) << expected;
  };

  // whitespace: str.split()
  row("book", "whitespace", kBookSentence, {"Your", "journey", "starts", "with", "one", "step"});
  row("punctuation", "whitespace", "Hello, world! (really)", {"Hello,", "world!", "(really)"});
  row("leading and trailing", "whitespace", "   one  two   ", {"one", "two"});
  row("tabs and newlines", "whitespace", "a \t\tb\n\nc\r\nd\v\fe", {"a", "b", "c", "d", "e"});
  // No-break space, em space, ideographic space, line and paragraph separators, NEL, Ogham space mark.
  row("unicode spaces", "whitespace", "a\u00A0b\u2003c\u3000d\u2028e\u2029f\u0085g\u1680h",
      {"a", "b", "c", "d", "e", "f", "g", "h"});
  row("zero-width space is not white space", "whitespace", "a\u200Bb c", {"a\u200Bb", "c"});
  row("emoji", "whitespace", "hi👋there 🇯🇵 👨‍👩‍👧",
      {"hi👋there", "🇯🇵", "👨‍👩‍👧"});
  row("combining mark after a space", "whitespace", "a \u0301b", {"a", "\u0301b"});
  row("hebrew", "whitespace", "שָׁלוֹם עוֹלָם", {"שָׁלוֹם", "עוֹלָם"});
  row("empty", "whitespace", "", {});
  row("all space", "whitespace", " \t\n\u3000 ", {});

  // words: letters, marks, digits and connectors together; every other symbol alone
  row("book", "words", kBookSentence, {"Your", "journey", "starts", "with", "one", "step"});
  row("punctuation", "words", "Hello, world!", {"Hello", ",", "world", "!"});
  row("apostrophe and ellipsis", "words", "don't stop...", {"don", "'", "t", "stop", ".", ".", "."});
  row("digits and underscore", "words", "snake_case x2 3.14 ½", {"snake_case", "x2", "3", ".", "14", "½"});
  row("symbols", "words", "a+b=c $5 ©", {"a", "+", "b", "=", "c", "$", "5", "©"});
  row("multiple spaces", "words", "  a \t b\n\nc  ", {"a", "b", "c"});
  row("precomposed accents", "words", "café naïve", {"café", "naïve"});
  row("combining accents", "words", "cafe\u0301 nai\u0308ve.", {"cafe\u0301", "nai\u0308ve", "."});
  row("combining mark after a space", "words", "a \u0301b", {"a", "\u0301b"});
  row("emoji with variation selector and skin tone", "words", "I ❤️ NY👍🏽!",
      {"I", "❤️", "NY", "👍🏽", "!"});
  row("emoji inside a word", "words", "hi👋there", {"hi", "👋", "there"});
  row("zwj family", "words", "👨‍👩‍👧 family", {"👨‍👩‍👧", "family"});
  row("flags", "words", "🇯🇵🇺🇸", {"🇯🇵", "🇺🇸"});
  row("cjk", "words", "我爱你。東京タワー", {"我爱你", "。", "東京タワー"});
  row("hebrew with points", "words", "שָׁלוֹם, עוֹלָם!", {"שָׁלוֹם", ",", "עוֹלָם", "!"});
  row("arabic", "words", "مرحبا بالعالم؟", {"مرحبا", "بالعالم", "؟"});
  row("empty", "words", "", {});
  row("all space", "words", "\t \r\n", {});

  // chars: extended grapheme clusters, white space included
  row("book", "chars", kBookSentence, each_ascii_char(kBookSentence));
  row("white space", "chars", "a b\t\r\n", {"a", " ", "b", "\t", "\r\n"});
  row("precomposed accent", "chars", "café", {"c", "a", "f", "é"});
  row("combining accent", "chars", "cafe\u0301", {"c", "a", "f", "e\u0301"});
  row("stacked combining marks", "chars", "a\u0323\u0302b", {"a\u0323\u0302", "b"});
  row("combining mark after a space", "chars", " \u0301x", {" \u0301", "x"});
  row("variation selector", "chars", "❤️!", {"❤️", "!"});
  row("skin tone", "chars", "👍🏽👍", {"👍🏽", "👍"});
  row("zwj family", "chars", "👨‍👩‍👧x", {"👨‍👩‍👧", "x"});
  row("flags", "chars", "🇯🇵🇺🇸🇫", {"🇯🇵", "🇺🇸", "🇫"});
  row("cjk", "chars", "我爱你", {"我", "爱", "你"});
  row("hangul jamo", "chars", "\u1112\u1161\u11AB!", {"\u1112\u1161\u11AB", "!"});
  row("hebrew with points", "chars", "\u05E9\u05B8\u05C1\u05DC\u05D5\u05B9\u05DD",
      {"\u05E9\u05B8\u05C1", "\u05DC", "\u05D5\u05B9", "\u05DD"});
  row("arabic with harakat", "chars", "سَلام", {"سَ", "ل", "ا", "م"});
  row("empty", "chars", "", {});
  row("all space", "chars", "  ", {" ", " "});
}

void TestTokenizer::tokenize() {
  QFETCH(QByteArray, text);
  QFETCH(QByteArray, kind);
  QFETCH(QStringList, expected);
  QCOMPARE(texts_of(::tokenize(text, kind)), expected);
}

void TestTokenizer::spansPointBackIntoTheSource() {
  QFETCH(QByteArray, text);
  QFETCH(QByteArray, kind);
  const auto tokens = ::tokenize(text, kind);
  std::size_t previous_byte_end = 0, previous_char_end = 0;
  for (const auto& token : tokens) {
    QVERIFY(token.byte_begin < token.byte_end);
    QVERIFY(token.char_begin < token.char_end);
    QVERIFY(token.byte_begin >= previous_byte_end);
    QVERIFY(token.char_begin >= previous_char_end);
    const auto byte_begin = static_cast<qsizetype>(token.byte_begin);
    const auto byte_end = static_cast<qsizetype>(token.byte_end);
    QCOMPARE(text.mid(byte_begin, byte_end - byte_begin), QByteArray::fromStdString(token.text));
    QCOMPARE(code_points_in(text.left(byte_begin)), static_cast<qsizetype>(token.char_begin));
    QCOMPARE(code_points_in(text.left(byte_end)), static_cast<qsizetype>(token.char_end));
    previous_byte_end = token.byte_end;
    previous_char_end = token.char_end;
  }
}

void TestTokenizer::charsCoverTheWholeText_data() {
  QTest::addColumn<QByteArray>("text");
  QTest::newRow("book") << QByteArray(kBookSentence);
  QTest::newRow("mixed scripts") << QByteArray(
      "Ça va? 我爱你 👨‍👩‍👧 שָׁלוֹם\n🇯🇵 e\u0301\r\n");
}

void TestTokenizer::charsCoverTheWholeText() {
  QFETCH(QByteArray, text);
  std::string joined;
  for (const auto& token : ::tokenize(text, "chars")) joined += token.text;
  QCOMPARE(QByteArray::fromStdString(joined), text);
}

void TestTokenizer::spansCountBytesAndCodePoints() {
  // "é" is 2 bytes and 1 code point; "👍🏽" is 8 bytes and 2 code points.
  const auto tokens = ::tokenize("é 👍🏽x", "words");
  const std::vector<Token> expected = {
      {"é", 0, 2, 0, 1},
      {"👍🏽", 3, 11, 2, 4},
      {"x", 11, 12, 4, 5},
  };
  QCOMPARE(tokens.size(), expected.size());
  for (std::size_t i = 0; i < tokens.size(); ++i) QVERIFY2(tokens[i] == expected[i], tokens[i].text.c_str());
}

void TestTokenizer::readsOnlyTheGivenView() {
  const std::string_view text = "ab cdef";
  QCOMPARE(texts_of(attnscope::tokenize(text.substr(0, 4), TokenizerKind::whitespace)),
           QStringList({"ab", "c"}));
}

void TestTokenizer::invalidUtf8NamesTheByte_data() {
  QTest::addColumn<QByteArray>("text");
  QTest::addColumn<int>("byte");
  QTest::newRow("truncated at the end") << QByteArray("abc\xC3") << 3;
  QTest::newRow("truncated before ascii") << QByteArray("ab\xE2\x82x") << 2;
  QTest::newRow("truncated emoji") << QByteArray("\xF0\x9F\x98") << 0;
  QTest::newRow("overlong 2-byte slash") << QByteArray("ab\xC0\xAF") << 2;
  QTest::newRow("overlong 3-byte") << QByteArray("\xE0\x80\xAF") << 0;
  QTest::newRow("overlong 4-byte") << QByteArray("x\xF0\x80\x80\xAF") << 1;
  QTest::newRow("lone continuation") << QByteArray("é\x80") << 2;
  QTest::newRow("continuation first") << QByteArray("\xBF ok") << 0;
  QTest::newRow("utf-16 surrogate") << QByteArray("ok \xED\xA0\x80") << 3;
  QTest::newRow("beyond U+10FFFF") << QByteArray("\xF4\x90\x80\x80") << 0;
  QTest::newRow("0xFF") << QByteArray("Your journey \xFF") << 13;
}

void TestTokenizer::invalidUtf8NamesTheByte() {
  QFETCH(QByteArray, text);
  QFETCH(int, byte);
  const auto expected = "text is not valid UTF-8 at byte " + std::to_string(byte);
  for (const auto kind : {TokenizerKind::whitespace, TokenizerKind::words, TokenizerKind::chars}) {
    try {
      attnscope::tokenize(std::string_view(text.constData(), static_cast<std::size_t>(text.size())), kind);
      QFAIL("no error");
    } catch (const attnscope::Error& error) {
      QCOMPARE(QString::fromUtf8(error.what()), QString::fromStdString(expected));
    }
  }
}

void TestTokenizer::namesRoundTrip() {
  for (const auto kind : {TokenizerKind::whitespace, TokenizerKind::words, TokenizerKind::chars})
    QCOMPARE(attnscope::parse_tokenizer(attnscope::to_string(kind)), kind);
  QCOMPARE(QString::fromUtf8(attnscope::to_string(TokenizerKind::whitespace)), "whitespace");
  QCOMPARE(QString::fromUtf8(attnscope::to_string(TokenizerKind::words)), "words");
  QCOMPARE(QString::fromUtf8(attnscope::to_string(TokenizerKind::chars)), "chars");
}

void TestTokenizer::unknownNameIsAnError_data() {
  QTest::addColumn<QByteArray>("name");
  QTest::newRow("bpe") << QByteArray("bpe");
  QTest::newRow("empty") << QByteArray("");
  QTest::newRow("padded") << QByteArray(" words");
}

void TestTokenizer::unknownNameIsAnError() {
  QFETCH(QByteArray, name);
  try {
    attnscope::parse_tokenizer(name.toStdString());
    QFAIL("no error");
  } catch (const attnscope::Error& error) {
    QCOMPARE(QString::fromUtf8(error.what()),
             "unknown tokenizer '" + name + "' (expected whitespace, words or chars)");
  }
}

QTEST_GUILESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
