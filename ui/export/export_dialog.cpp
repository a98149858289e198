#include "export/export_dialog.hpp"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>

#include "export/figure_preset.hpp"
#include "state/window_settings.hpp"

namespace attnscope::ui {
namespace {

QSettings savedSettings() {
  return QSettings(QString::fromLatin1(WindowSettings::kOrganization),
                   QString::fromLatin1(WindowSettings::kApplication));
}

}  // namespace

ExportDialog::ExportDialog(const HeatmapPlot& grid, QSize windowSize, const QString& directory,
                           QWidget* parent)
    : QDialog(parent),
      m_grid(grid),
      m_windowSize(windowSize),
      m_target(new QComboBox),
      m_format(new QComboBox),
      m_preset(new QComboBox),
      m_width(new QSpinBox),
      m_height(new QSpinBox),
      m_scale(new QDoubleSpinBox),
      m_pixels(new QLabel),
      m_path(new QLineEdit),
      m_problem(new QLabel) {
  setWindowTitle(tr("Export Image"));
  m_target->setObjectName(QStringLiteral("target"));
  m_target->addItem(tr("The whole grid"), -1);
  for (int map = 0; map < grid.mapCount(); ++map)
    m_target->addItem(tr("One map: %1").arg(grid.mapTitle(map)), map);
  m_target->addItem(tr("Each map to a folder"), -2);

  m_format->setObjectName(QStringLiteral("format"));
  m_format->addItem(tr("PNG image"), int(ImageFormat::png));
  m_format->addItem(tr("SVG (vector)"), int(ImageFormat::svg));
  m_format->addItem(tr("PDF (vector)"), int(ImageFormat::pdf));

  m_preset->setObjectName(QStringLiteral("preset"));
  m_preset->addItem(tr("Custom size"), -1);
  for (const FigurePreset preset : {FigurePreset::slide, FigurePreset::column, FigurePreset::page})
    m_preset->addItem(FigurePresets::description(preset), int(preset));
  m_preset->setToolTip(
      tr("A preset lays the figure out at its physical size: PDF and SVG pages have it in "
         "points, so 8 pt labels print at 8 pt"));

  for (QSpinBox* side : {m_width, m_height}) {
    side->setRange(16, 16384);
    side->setSuffix(tr(" px"));
  }
  m_width->setObjectName(QStringLiteral("width"));
  m_height->setObjectName(QStringLiteral("height"));
  auto* windowButton = new QPushButton(tr("As on screen"));
  auto* naturalButton = new QPushButton(tr("Natural"));
  naturalButton->setToolTip(tr("A size at which every label and value is readable"));
  auto* sizeRow = new QWidget;
  auto* sizeLayout = new QHBoxLayout(sizeRow);
  sizeLayout->setContentsMargins(0, 0, 0, 0);
  sizeLayout->addWidget(m_width);
  sizeLayout->addWidget(new QLabel(QStringLiteral("\u00d7")));
  sizeLayout->addWidget(m_height);
  sizeLayout->addWidget(windowButton);
  sizeLayout->addWidget(naturalButton);
  sizeLayout->addStretch(1);

  m_scale->setObjectName(QStringLiteral("scale"));
  m_scale->setRange(0.25, 8.0);
  m_scale->setSingleStep(0.5);
  m_scale->setValue(1.0);
  m_scale->setSuffix(QStringLiteral("\u00d7"));
  m_scale->setToolTip(
      tr("Pixels per logical pixel: 2\u00d7 doubles the resolution, text and lines included"));
  m_pixels->setStyleSheet(QStringLiteral("color: palette(dark);"));
  auto* scaleRow = new QWidget;
  auto* scaleLayout = new QHBoxLayout(scaleRow);
  scaleLayout->setContentsMargins(0, 0, 0, 0);
  scaleLayout->addWidget(m_scale);
  scaleLayout->addWidget(m_pixels, 1);

  m_path->setObjectName(QStringLiteral("path"));
  auto* browseButton = new QPushButton(tr("Browse\u2026"));
  auto* pathRow = new QWidget;
  auto* pathLayout = new QHBoxLayout(pathRow);
  pathLayout->setContentsMargins(0, 0, 0, 0);
  pathLayout->addWidget(m_path, 1);
  pathLayout->addWidget(browseButton);

  m_problem->setStyleSheet(QStringLiteral("color: #b3261e;"));
  m_problem->setWordWrap(true);
  m_problem->hide();

  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  buttons->button(QDialogButtonBox::Ok)->setText(tr("Export"));

  auto* form = new QFormLayout(this);
  form->addRow(tr("&Export"), m_target);
  form->addRow(tr("&Format"), m_format);
  form->addRow(tr("F&igure"), m_preset);
  form->addRow(tr("&Size"), sizeRow);
  form->addRow(tr("S&cale"), scaleRow);
  form->addRow(tr("Save &to"), pathRow);
  form->addRow(m_problem);
  form->addRow(buttons);

  connect(m_target, &QComboBox::currentIndexChanged, this, &ExportDialog::onTargetChanged);
  connect(m_format, &QComboBox::currentIndexChanged, this, &ExportDialog::onFormatChanged);
  connect(m_preset, &QComboBox::currentIndexChanged, this, &ExportDialog::onFormatChanged);
  connect(m_width, &QSpinBox::valueChanged, this, &ExportDialog::onFormatChanged);
  connect(m_height, &QSpinBox::valueChanged, this, &ExportDialog::onFormatChanged);
  connect(m_scale, &QDoubleSpinBox::valueChanged, this, &ExportDialog::onFormatChanged);
  connect(windowButton, &QPushButton::clicked, this, [this] { setPixelSize(m_windowSize); });
  connect(naturalButton, &QPushButton::clicked, this, &ExportDialog::useNaturalSize);
  connect(browseButton, &QPushButton::clicked, this, &ExportDialog::browse);
  // The format follows the file name as it is typed: "typed.svg" is an SVG, whatever the box said.
  connect(m_path, &QLineEdit::textEdited, this, [this](const QString& text) {
    const QString suffix = QFileInfo(text.trimmed()).suffix().toLower();
    for (const ImageFormat format : {ImageFormat::png, ImageFormat::svg, ImageFormat::pdf})
      if (suffix == Exporter::suffix(format) && request().format != format) setFormat(format);
  });
  connect(buttons, &QDialogButtonBox::accepted, this, &ExportDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &ExportDialog::reject);

  setPixelSize(windowSize.isEmpty() ? grid.naturalSize() : windowSize);
  m_path->setText(QDir(directory).filePath(QStringLiteral("attention.png")));
  restoreChoices();
  onFormatChanged();
}

void ExportDialog::restoreChoices() {
  QSettings saved = savedSettings();
  saved.beginGroup(QStringLiteral("exportDialog"));
  const QString suffix = saved.value(QStringLiteral("format")).toString();
  for (const ImageFormat format : {ImageFormat::png, ImageFormat::svg, ImageFormat::pdf})
    if (suffix == Exporter::suffix(format)) setFormat(format);
  if (const int preset = m_preset->findData(saved.value(QStringLiteral("preset"), -1).toInt()); preset >= 0)
    m_preset->setCurrentIndex(preset);
  const QSize size = saved.value(QStringLiteral("size")).toSize();
  if (size.isValid() && !size.isEmpty()) setPixelSize(size);
  if (const double scale = saved.value(QStringLiteral("scale"), 0.0).toDouble(); scale > 0)
    m_scale->setValue(scale);
}

void ExportDialog::saveChoices() const {
  QSettings saved = savedSettings();
  saved.beginGroup(QStringLiteral("exportDialog"));
  saved.setValue(QStringLiteral("format"), Exporter::suffix(request().format));
  saved.setValue(QStringLiteral("preset"), m_preset->currentData().toInt());
  saved.setValue(QStringLiteral("size"), QSize(m_width->value(), m_height->value()));
  saved.setValue(QStringLiteral("scale"), m_scale->value());
}

int ExportDialog::targetIndex() const {
  return m_target->currentIndex();
}

void ExportDialog::setTargetIndex(int index) {
  if (index >= 0 && index < m_target->count()) m_target->setCurrentIndex(index);
}

void ExportDialog::setProblem(const QString& problem) {
  m_problem->setText(problem);
  m_problem->setVisible(!problem.isEmpty());
}

QString ExportDialog::problem() const {
  return m_problem->isHidden() ? QString() : m_problem->text();
}

ExportDialog::Target ExportDialog::target() const {
  const int data = m_target->currentData().toInt();
  return data == -1 ? Target::grid : data == -2 ? Target::folder : Target::map;
}

std::optional<MapKey> ExportDialog::map() const {
  if (target() != Target::map) return std::nullopt;
  return m_grid.mapKey(m_target->currentData().toInt());
}

ImageRequest ExportDialog::request() const {
  const auto format = static_cast<ImageFormat>(m_format->currentData().toInt());
  if (const int preset = m_preset->currentData().toInt(); preset >= 0)
    return FigurePresets::request(static_cast<FigurePreset>(preset), format);
  ImageRequest request;
  request.format = format;
  request.size = QSize(m_width->value(), m_height->value());
  request.scale = request.format == ImageFormat::png ? m_scale->value() : 1.0;
  return request;
}

QString ExportDialog::path() const {
  return m_path->text().trimmed();
}

void ExportDialog::setTarget(Target target, int mapIndex) {
  const int data = target == Target::grid ? -1 : target == Target::folder ? -2 : mapIndex;
  m_target->setCurrentIndex(m_target->findData(data));
}

void ExportDialog::setFormat(ImageFormat format) {
  m_format->setCurrentIndex(m_format->findData(int(format)));
}

void ExportDialog::setPixelSize(QSize size) {
  m_width->setValue(size.width());
  m_height->setValue(size.height());
}

void ExportDialog::setPath(const QString& path) {
  m_path->setText(path);
}

void ExportDialog::useNaturalSize() {
  SnapshotPointer snapshot = m_grid.snapshot();
  if (!snapshot) return;
  // Each map to a folder: every file is one map, sized like the first.
  const std::optional<MapKey> one =
      target() == Target::folder && m_grid.mapCount() > 0 ? std::optional<MapKey>(m_grid.mapKey(0)) : map();
  setPixelSize(Exporter::naturalSize(snapshot, m_grid.displayOptions(), one));
}

void ExportDialog::onTargetChanged() {
  const QString current = path();
  if (target() == Target::folder) {
    // A folder: drop a file name, if any.
    const QFileInfo info(current);
    if (!info.suffix().isEmpty()) m_path->setText(info.absolutePath());
  } else if (QFileInfo(current).suffix().isEmpty()) {
    m_path->setText(
        QDir(current).filePath(QStringLiteral("attention.") + Exporter::suffix(request().format)));
  }
  if (target() != Target::grid) useNaturalSize();
  onFormatChanged();
}

void ExportDialog::onFormatChanged() {
  const ImageRequest wanted = request();
  const bool custom = m_preset->currentData().toInt() < 0;
  m_scale->setEnabled(custom && wanted.format == ImageFormat::png);
  m_width->setEnabled(custom);
  m_height->setEnabled(custom);
  const QSize pixels = (QSizeF(wanted.size) * wanted.scale).toSize();
  m_pixels->setText(
      wanted.format == ImageFormat::png ? tr("%1 \u00d7 %2 pixels").arg(pixels.width()).arg(pixels.height())
      : wanted.format == ImageFormat::pdf
          ? tr("page of %1 \u00d7 %2 pt").arg(wanted.size.width()).arg(wanted.size.height())
          : tr("vector, %1 \u00d7 %2 view box").arg(wanted.size.width()).arg(wanted.size.height()));
  if (target() != Target::folder) {
    // Keep the file name's suffix in step with the format.
    const QFileInfo info(path());
    if (!info.fileName().isEmpty() && info.suffix().toLower() != Exporter::suffix(wanted.format))
      m_path->setText(
          QDir(info.path())
              .filePath(info.completeBaseName() + QLatin1Char('.') + Exporter::suffix(wanted.format)));
  }
}

void ExportDialog::browse() {
  if (target() == Target::folder) {
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Export each map to"), path());
    if (!folder.isEmpty()) m_path->setText(folder);
    return;
  }
  const ImageFormat format = request().format;
  const QString filter = format == ImageFormat::png   ? tr("PNG image (*.png)")
                         : format == ImageFormat::svg ? tr("SVG image (*.svg)")
                                                      : tr("PDF document (*.pdf)");
  const QString file = QFileDialog::getSaveFileName(this, tr("Export image"), path(), filter);
  if (!file.isEmpty()) m_path->setText(file);
}

void ExportDialog::accept() {
  const QString where = path();
  QString problem;
  if (where.isEmpty())
    problem = tr("Choose where to save.");
  else if (target() == Target::folder && !QFileInfo(where).isDir())
    problem = tr("%1 is not a folder.").arg(where);
  else if (target() != Target::folder && QFileInfo(where).isDir())
    problem = tr("%1 is a folder: add a file name.").arg(where);
  else if (target() != Target::folder && !QFileInfo(QFileInfo(where).absolutePath()).isDir())
    problem = tr("There is no folder %1: choose one that exists.")
                  .arg(QDir::toNativeSeparators(QFileInfo(where).absolutePath()));
  else if (target() != Target::folder &&
           QFileInfo(where).suffix().toLower() != Exporter::suffix(request().format))
    problem =
        tr("%1 does not end in .%2, the format chosen: name it .png, .svg or .pdf to choose the format.")
            .arg(QFileInfo(where).fileName(), Exporter::suffix(request().format));
  if (!problem.isEmpty()) return setProblem(problem);
  setProblem(QString());
  saveChoices();
  QDialog::accept();
}

}  // namespace attnscope::ui
