// MapTitle: measured and drawn like QCPTextElement, from a layout kept until its text or font changes.

#include <QImage>
#include <QTest>

#include "plot/map_title.hpp"

using namespace attnscope::ui;

namespace {

// The pixels a title draws, alone in a plot of its own.
QImage drawn(QCustomPlot& plot) {
  plot.resize(400, 60);
  plot.replot();
  return plot.toPixmap(400, 60).toImage();
}

// The first and one past the last column with dark pixels ([0, 0) when none has).
std::pair<int, int> inkedSpan(const QImage& image) {
  int first = image.width(), last = -1;
  for (int x = 0; x < image.width(); ++x)
    for (int y = 0; y < image.height(); ++y)
      if (qGray(image.pixel(x, y)) < 128) {
        first = std::min(first, x);
        last = x;
        break;
      }
  return last < 0 ? std::pair(0, 0) : std::pair(first, last + 1);
}

}  // namespace

class TestMapTitle : public QObject {
  Q_OBJECT

 private slots:
  void measuresAsQCPTextElementDoes() {
    QCustomPlot plot;
    QFont font = plot.font();
    font.setBold(true);
    const QString text = QStringLiteral("head 12 \u00b7 causal + window:3 \u00b7 scaled scores");
    MapTitle title(&plot, font);
    QCPTextElement reference(&plot, text, font);
    title.setText(text);
    // Both measured through the layout's interface, as the layout measures them.
    const QCPLayoutElement& titleElement = title;
    const QCPLayoutElement& referenceElement = reference;
    const QSize ours = titleElement.minimumOuterSizeHint(), theirs = referenceElement.minimumOuterSizeHint();
    QVERIFY2(std::abs(ours.width() - theirs.width()) <= 1,
             qPrintable(QStringLiteral("%1 vs %2").arg(ours.width()).arg(theirs.width())));
    QCOMPARE(ours.height(), theirs.height());
    QCOMPARE(titleElement.maximumOuterSizeHint().height(), referenceElement.maximumOuterSizeHint().height());

    // A new text or font is laid out anew.
    title.setText(QStringLiteral("head 1"));
    QVERIFY(titleElement.minimumOuterSizeHint().width() < ours.width() / 2);
    font.setPointSize(font.pointSize() * 2);
    title.setFont(font);
    QVERIFY(titleElement.minimumOuterSizeHint().height() > ours.height());
  }

  void drawsItsTextCentred() {
    QCustomPlot plot;
    plot.plotLayout()->clear();
    auto* title = new MapTitle(&plot, plot.font());
    plot.plotLayout()->addElement(0, 0, title);
    title->setText(QStringLiteral("head 1 \u00b7 none"));
    const auto [left, right] = inkedSpan(drawn(plot));
    QVERIFY(right - left > 20);
    QVERIFY2(std::abs((left + right) / 2 - 200) <= 3,
             qPrintable(QStringLiteral("%1..%2").arg(left).arg(right)));

    title->setText(QStringLiteral("head 1 \u00b7 none, and a longer title"));
    const auto [longerLeft, longerRight] = inkedSpan(drawn(plot));
    QVERIFY(longerRight - longerLeft > right - left + 40);
  }
};

QTEST_MAIN(TestMapTitle)
#include "test_map_title.moc"
