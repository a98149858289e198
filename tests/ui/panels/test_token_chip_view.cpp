// TokenChipView (ui/panels/token_chip_view.hpp): an edit keeps the chips before its first changed token and
// after its last, and every chip then has the text, tool tip and place a view given the new tokens from
// scratch gives it.

#include <QTest>

#include "panels/token_chip_view.hpp"

using namespace attnscope::ui;

namespace {

QStringList words(int count, const QString& prefix = QStringLiteral("w")) {
  QStringList list;
  for (int i = 0; i < count; ++i) list << prefix + QString::number(i);
  return list;
}

// Fails with the first chip `view` shows differently from a fresh view of the same tokens.
void compareWithFresh(const TokenChipView& view, const QStringList& tokens, const QStringList& details) {
  TokenChipView fresh;
  fresh.resize(view.size());
  fresh.setTokens(tokens, details);
  QCOMPARE(view.tokenCount(), fresh.tokenCount());
  for (int i = 0; i < fresh.tokenCount(); ++i) {
    QCOMPARE(view.chipText(i), fresh.chipText(i));
    QCOMPARE(view.chipToolTip(i), fresh.chipToolTip(i));
    QCOMPARE(view.chipRect(i), fresh.chipRect(i));
  }
}

}  // namespace

class TestTokenChipView : public QObject {
  Q_OBJECT

 private slots:
  void editsGiveTheChipsOfAFreshView() {
    TokenChipView view;
    view.resize(600, 40);
    QStringList tokens = words(40);
    view.setTokens(tokens);
    compareWithFresh(view, tokens, {});
    tokens.last() += QStringLiteral("xyzzy");  // a longer last token: its chip widens
    view.setTokens(tokens);
    compareWithFresh(view, tokens, {});
    tokens[3] = QStringLiteral("a");  // a shorter one early on: every chip after it moves left
    view.setTokens(tokens);
    compareWithFresh(view, tokens, {});
    tokens.removeLast();
    tokens << words(3, QStringLiteral("new"));
    view.setTokens(tokens);
    compareWithFresh(view, tokens, {});
    QStringList details = words(tokens.size(), QStringLiteral("piece "));
    view.setTokens(tokens, details);  // the same tokens with details: every tool tip changes
    compareWithFresh(view, tokens, details);
    view.setTokens(tokens.mid(0, 5));
    compareWithFresh(view, tokens.mid(0, 5), {});
    // In the middle of nine tokens: replaced (the chips after it keep their text and size, and move), then
    // one put in (the chips after it are numbered one more: the ninth becomes "10", wider), then two taken
    // away.
    tokens = words(9);
    view.setTokens(tokens);
    tokens[4] = QStringLiteral("much-longer-token");
    view.setTokens(tokens);
    compareWithFresh(view, tokens, {});
    tokens.insert(2, QStringLiteral("put"));
    view.setTokens(tokens);
    compareWithFresh(view, tokens, {});
    tokens.remove(5, 2);
    view.setTokens(tokens);
    compareWithFresh(view, tokens, {});
    view.setTokens({});
    QCOMPARE(view.tokenCount(), 0);
  }
};

QTEST_MAIN(TestTokenChipView)
#include "test_token_chip_view.moc"
