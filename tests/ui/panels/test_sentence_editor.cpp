// SentenceEditor (ui/panels/sentence_editor.hpp): every paragraph keeps its shaped glyphs, however the text
// came (set, typed, pasted, undone), so that a paint or a blink of the cursor does not shape it again.

#include <QApplication>
#include <QClipboard>
#include <QTest>
#include <QTextBlock>
#include <QTextLayout>

#include "panels/sentence_editor.hpp"

using namespace attnscope::ui;

namespace {

// Fails with the first paragraph whose layout drops its glyphs.
void everyParagraphKeepsItsGlyphs(const SentenceEditor& editor) {
  int paragraph = 0;
  for (QTextBlock block = editor.document()->begin(); block.isValid(); block = block.next(), ++paragraph)
    QVERIFY2(block.layout()->cacheEnabled(), qPrintable(QStringLiteral("paragraph %1").arg(paragraph)));
}

}  // namespace

class TestSentenceEditor : public QObject {
  Q_OBJECT

 private slots:
  void everyParagraphKeepsItsShapedGlyphs() {
    SentenceEditor editor;
    editor.resize(600, 120);
    editor.show();
    QVERIFY(QTest::qWaitForWindowExposed(&editor));
    editor.setText(QStringLiteral("Your journey starts with one step"));
    everyParagraphKeepsItsGlyphs(editor);
    QTest::keyClicks(editor.viewport(), QStringLiteral(" and then"));
    QTest::keyClick(editor.viewport(), Qt::Key_Return);
    QTest::keyClicks(editor.viewport(), QStringLiteral("a second paragraph"));
    QCOMPARE(editor.document()->blockCount(), 2);
    everyParagraphKeepsItsGlyphs(editor);
    QApplication::clipboard()->setText(QStringLiteral("pasted\nthird\nfourth"));
    editor.moveCursor(QTextCursor::Start);
    editor.paste();
    QCOMPARE(editor.document()->blockCount(), 4);
    everyParagraphKeepsItsGlyphs(editor);
    editor.undo();
    editor.redo();
    everyParagraphKeepsItsGlyphs(editor);
    editor.setText(QStringLiteral("one\ntwo\nthree"));
    QCOMPARE(editor.document()->blockCount(), 3);
    everyParagraphKeepsItsGlyphs(editor);
    QCOMPARE(editor.text(), QStringLiteral("one\ntwo\nthree"));
  }
};

QTEST_MAIN(TestSentenceEditor)
#include "test_sentence_editor.moc"
