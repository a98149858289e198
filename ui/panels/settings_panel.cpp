#include "panels/settings_panel.hpp"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpressionValidator>
#include <QScrollBar>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QTextLayout>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

#include "attnscope/embeddings.hpp"
#include "text.hpp"

namespace attnscope::ui {
namespace {

constexpr int kMinimumWidth = 240;
constexpr int kEmbeddingsNoteLines = 3;

// `text` word-wrapped to `width` in at most `lines` lines, the last one elided if it does not fit.
QString elidedToLines(const QString& text, const QFont& font, int width, int lines) {
  QTextLayout layout(text, font);
  layout.beginLayout();
  QStringList shown;
  for (int i = 0; i < lines; ++i) {
    QTextLine line = layout.createLine();
    if (!line.isValid()) break;
    line.setLineWidth(width);
    const QString part = text.mid(line.textStart(), line.textLength());
    if (i == lines - 1 && line.textStart() + line.textLength() < text.size())
      shown << QFontMetrics(font).elidedText(text.mid(line.textStart()), Qt::ElideRight, width);
    else
      shown << part.trimmed();
  }
  layout.endLayout();
  return shown.join(QLatin1Char('\n'));
}

struct MechanismEntry {
  Mechanism mechanism;
  const char* label;
  const char* tip;
};

const MechanismEntry kMechanisms[] = {
    {Mechanism::simplified, "simplified",
     "Section 3.3: scores = x\u00b7x\u1d40, no trainable weights, no scaling"},
    {Mechanism::self_attention_v1, "self-attention v1",
     "SelfAttention_v1: W_q, W_k, W_v = torch.rand(d_in, d_out)"},
    {Mechanism::self_attention, "self-attention v2", "SelfAttention_v2: three nn.Linear(d_in, d_out)"},
    {Mechanism::causal, "causal", "CausalAttention: v2 with a causal mask and dropout"},
    {Mechanism::multihead_wrapper, "multi-head wrapper",
     "MultiHeadAttentionWrapper: H CausalAttention heads, each d_out wide, concatenated"},
    {Mechanism::multihead, "multi-head", "MultiHeadAttention: the heads split d_out, then out_proj"},
};

QLineEdit* seedEdit(const QString& placeholder) {
  auto* edit = new QLineEdit;
  edit->setValidator(new QRegularExpressionValidator(QRegularExpression(QStringLiteral("\\d{0,20}")), edit));
  edit->setPlaceholderText(placeholder);
  edit->setClearButtonEnabled(!placeholder.isEmpty());
  return edit;
}

QString seedText(const std::optional<std::uint64_t>& seed) {
  return seed ? QString::number(*seed) : QString();
}

QWidget* row(std::initializer_list<QWidget*> widgets) {
  auto* container = new QWidget;
  auto* layout = new QHBoxLayout(container);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(6);
  for (QWidget* widget : widgets) layout->addWidget(widget);
  layout->addStretch(1);
  return container;
}

void select(QComboBox* combo, const QVariant& data) {
  const int index = combo->findData(data);
  if (index >= 0) combo->setCurrentIndex(index);
}

}  // namespace

SettingsPanel::SettingsPanel(QWidget* parent) : QScrollArea(parent), m_settings(ViewSettings::defaults()) {
  auto* content = new QWidget;
  auto* layout = new QVBoxLayout(content);
  layout->setContentsMargins(8, 8, 8, 8);
  layout->setSpacing(10);
  layout->addWidget(buildModelGroup());
  layout->addWidget(buildInputGroup());
  m_mechanismGroup = buildMechanismGroup();
  layout->addWidget(m_mechanismGroup);
  layout->addWidget(buildMasksGroup());
  layout->addWidget(buildDisplayGroup());
  layout->addWidget(buildDeviceGroup());
  // Room for the device's error note, which floats under its field.
  layout->addSpacing(2 * fontMetrics().lineSpacing());
  layout->addStretch(1);
  setWidget(content);
  setWidgetResizable(true);
  // The error notes float over the fields (they are not in the layouts): a shown error pushes nothing down.
  for (auto& [field, label] : m_errors) {
    label->setParent(content);
    label->hide();
  }
  content->installEventFilter(this);
  m_embeddingsNote->installEventFilter(this);
  setFrameShape(QFrame::NoFrame);
  // Narrower than its fields on a small screen (1024 × 700), the panel scrolls sideways rather than pushing
  // the window wider than the screen.
  setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
  setMinimumWidth(kMinimumWidth);
  showSettings();
}

QLabel* SettingsPanel::addErrorRow(QFormLayout* form, SettingsField field) {
  // Under the row added last (a spanning row, or the field of a labelled one).
  QLayoutItem* anchor = form->itemAt(form->rowCount() - 1, QFormLayout::FieldRole);
  if (!anchor) anchor = form->itemAt(form->rowCount() - 1, QFormLayout::SpanningRole);
  auto* label = new QLabel;
  label->setObjectName(QStringLiteral("fieldError"));
  label->setWordWrap(true);
  label->setTextFormat(Qt::PlainText);
  label->setStyleSheet(
      QStringLiteral("QLabel { color: #b3261e; background: #fdf0ef; border: 1px solid #e3a19b; "
                     "border-radius: 3px; padding: 2px 4px; }"));
  // What it covers stays usable: a click goes through to the field underneath.
  label->setAttribute(Qt::WA_TransparentForMouseEvents);
  label->hide();
  m_errors[field] = label;
  m_errorAnchors[field] = anchor ? anchor->widget() : nullptr;
  return label;
}

void SettingsPanel::placeErrors() {
  QWidget* content = widget();
  std::map<QWidget*, int> below;  // two notes under one field stack
  for (auto& [field, label] : m_errors) {
    QWidget* anchor = m_errorAnchors[field];
    if (label->isHidden() || !anchor) continue;
    // As wide as the anchor's group, just under the anchor, over whatever follows.
    QWidget* group = anchor;
    while (group->parentWidget() != content && !qobject_cast<QGroupBox*>(group))
      group = group->parentWidget();
    const int left = group->mapTo(content, QPoint(0, 0)).x() + 6;
    const int width = std::max(80, group->width() - 12);
    const auto [next, first] =
        below.try_emplace(anchor, anchor->mapTo(content, QPoint(0, anchor->height())).y() + 1);
    const int top = next->second;
    label->setGeometry(left, top, width, label->heightForWidth(width));
    next->second = top + label->height() + 1;
    label->raise();
  }
}

bool SettingsPanel::eventFilter(QObject* watched, QEvent* event) {
  if (watched == widget() && (event->type() == QEvent::Resize || event->type() == QEvent::LayoutRequest))
    QTimer::singleShot(0, this, [this] { placeErrors(); });
  else if (watched == m_embeddingsNote && event->type() == QEvent::Resize)
    showEmbeddingsNote();
  return QScrollArea::eventFilter(watched, event);
}

QWidget* SettingsPanel::buildModelGroup() {
  auto* group = new QGroupBox(tr("Model"));
  auto* form = new QFormLayout(group);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);

  m_modelName = new QLabel;
  m_modelName->setObjectName(QStringLiteral("modelName"));
  m_modelName->setTextFormat(Qt::PlainText);
  m_modelName->setWordWrap(true);
  auto* open = new QToolButton;
  open->setObjectName(QStringLiteral("openModel"));
  open->setText(tr("Open\u2026"));
  open->setToolTip(tr("A GPT-2 folder: config.json, model.safetensors, vocab.json, merges.txt"));
  m_closeModel = new QToolButton;
  m_closeModel->setObjectName(QStringLiteral("closeModel"));
  m_closeModel->setText(tr("Close"));
  m_closeModel->setToolTip(tr("Back to the book's mechanisms"));
  connect(open, &QToolButton::clicked, this, &SettingsPanel::openModelRequested);
  connect(m_closeModel, &QToolButton::clicked, this, &SettingsPanel::closeModelRequested);
  auto* nameRow = new QWidget;
  auto* nameLayout = new QHBoxLayout(nameRow);
  nameLayout->setContentsMargins(0, 0, 0, 0);
  nameLayout->addWidget(m_modelName, 1);
  nameLayout->addWidget(open);
  nameLayout->addWidget(m_closeModel);
  form->addRow(nameRow);
  addErrorRow(form, SettingsField::model);

  m_layer = new QSpinBox;
  m_layer->setObjectName(QStringLiteral("layer"));
  m_layer->setRange(0, 4096);
  m_layer->setToolTip(
      tr("The layer the grid shows, 0-based as Hugging Face counts them (the overview "
         "shows them all)"));
  form->addRow(tr("&Layer"), m_layer);
  addErrorRow(form, SettingsField::layer);

  m_modelNote = new QLabel(
      tr("The text goes through the model's BPE; the tokenizer, embeddings, mechanism, sizes, seeds, dropout "
         "and device below do not apply (GPT-2 computes on the CPU)."));
  m_modelNote->setObjectName(QStringLiteral("modelNote"));
  m_modelNote->setWordWrap(true);
  m_modelNote->setStyleSheet(QStringLiteral("QLabel { color: palette(dark); }"));
  form->addRow(m_modelNote);

  connect(m_layer, &QSpinBox::valueChanged, this, &SettingsPanel::onEdited);
  return group;
}

QWidget* SettingsPanel::buildInputGroup() {
  auto* group = new QGroupBox(tr("Input"));
  auto* form = new QFormLayout(group);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);

  m_tokenizer = new QComboBox;
  m_tokenizer->setObjectName(QStringLiteral("tokenizer"));
  m_tokenizer->addItem(tr("whitespace"), int(TokenizerKind::whitespace));
  m_tokenizer->setItemData(0, tr("Runs of non-white-space, like Python's str.split()"), Qt::ToolTipRole);
  m_tokenizer->addItem(tr("words"), int(TokenizerKind::words));
  m_tokenizer->setItemData(1, tr("Words together, every other symbol on its own"), Qt::ToolTipRole);
  m_tokenizer->addItem(tr("characters"), int(TokenizerKind::chars));
  m_tokenizer->setItemData(2, tr("One token per grapheme (an emoji or accented letter is one token)"),
                           Qt::ToolTipRole);
  form->addRow(tr("&Tokenizer"), m_tokenizer);
  addErrorRow(form, SettingsField::tokenizer);
  addErrorRow(form, SettingsField::text);

  m_source = new QComboBox;
  m_source->setObjectName(QStringLiteral("embeddingSource"));
  m_source->addItem(tr("Book preset"), int(EmbeddingSource::book));
  m_source->setItemData(
      0, tr("The book's 6 \u00d7 3 embeddings for \u201cYour journey starts with one step\u201d"),
      Qt::ToolTipRole);
  m_source->addItem(tr("Seeded table"), int(EmbeddingSource::seeded));
  m_source->setItemData(1, tr("torch.manual_seed(seed); nn.Embedding(distinct tokens, d_in)"),
                        Qt::ToolTipRole);
  m_source->addItem(tr("File\u2026"), int(EmbeddingSource::file));
  m_source->setItemData(2, tr("A .npy or .csv with one row per token"), Qt::ToolTipRole);
  form->addRow(tr("&Embeddings"), m_source);

  m_file = new QLineEdit;
  m_file->setObjectName(QStringLiteral("embeddingsFile"));
  m_file->setPlaceholderText(tr("embeddings.npy or .csv"));
  auto* browse = new QToolButton;
  browse->setText(tr("\u2026"));
  browse->setToolTip(tr("Choose an embeddings file"));
  connect(browse, &QToolButton::clicked, this, [this] {
    chooseFile(m_file, tr("Embeddings file"), tr("Embeddings (*.npy *.csv);;All files (*)"));
  });
  m_fileRow = new QWidget;
  auto* fileLayout = new QHBoxLayout(m_fileRow);
  fileLayout->setContentsMargins(0, 0, 0, 0);
  fileLayout->addWidget(m_file, 1);
  fileLayout->addWidget(browse);
  form->addRow(QString(), m_fileRow);

  m_dIn = new QSpinBox;
  m_dIn->setObjectName(QStringLiteral("dIn"));
  m_dIn->setRange(1, 4096);
  m_dIn->setToolTip(tr("Width of each token's embedding (seeded tables; the book's are 3 wide)"));
  form->addRow(tr("d_&in"), m_dIn);
  addErrorRow(form, SettingsField::dIn);

  m_embeddingSeed = seedEdit(tr("same as seed"));
  m_embeddingSeed->setObjectName(QStringLiteral("embeddingSeed"));
  m_embeddingSeed->setToolTip(tr("torch.manual_seed before nn.Embedding (default: the module's seed)"));
  form->addRow(tr("Embedding seed"), m_embeddingSeed);

  m_embeddingsNote = new QLabel;
  m_embeddingsNote->setObjectName(QStringLiteral("embeddingsNote"));
  m_embeddingsNote->setWordWrap(false);
  m_embeddingsNote->setTextFormat(Qt::PlainText);
  m_embeddingsNote->setStyleSheet(QStringLiteral("QLabel { color: palette(dark); }"));
  // Three lines are kept for the note whatever it says, so the fields below never move as it changes; a
  // longer note is elided (in full in its tooltip).
  m_embeddingsNote->setFixedHeight(kEmbeddingsNoteLines * m_embeddingsNote->fontMetrics().lineSpacing() + 2);
  m_embeddingsNote->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Fixed);
  m_embeddingsNote->setAlignment(Qt::AlignLeft | Qt::AlignTop);
  form->addRow(m_embeddingsNote);
  m_useBookSentence = new QPushButton(tr("Use the book's sentence"));
  m_useBookSentence->setObjectName(QStringLiteral("useBookSentence"));
  m_useBookSentence->setToolTip(
      tr("\u201cYour journey starts with one step\u201d, whose embeddings the book prints"));
  m_useBookSentence->setEnabled(false);
  connect(m_useBookSentence, &QPushButton::clicked, this, &SettingsPanel::bookSentenceRequested);
  form->addRow(QString(), m_useBookSentence);
  addErrorRow(form, SettingsField::embeddings);

  connect(m_tokenizer, &QComboBox::currentIndexChanged, this, &SettingsPanel::onEdited);
  connect(m_source, &QComboBox::currentIndexChanged, this, &SettingsPanel::onEdited);
  connect(m_file, &QLineEdit::editingFinished, this, &SettingsPanel::onEdited);
  connect(m_dIn, &QSpinBox::valueChanged, this, &SettingsPanel::onEdited);
  connect(m_embeddingSeed, &QLineEdit::textEdited, this, &SettingsPanel::onEdited);
  return group;
}

QWidget* SettingsPanel::buildMechanismGroup() {
  auto* group = new QGroupBox(tr("Mechanism"));
  auto* form = new QFormLayout(group);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);

  m_mechanism = new QComboBox;
  m_mechanism->setObjectName(QStringLiteral("mechanism"));
  for (const MechanismEntry& entry : kMechanisms) {
    m_mechanism->addItem(tr(entry.label), int(entry.mechanism));
    m_mechanism->setItemData(m_mechanism->count() - 1, tr(entry.tip), Qt::ToolTipRole);
  }
  form->addRow(tr("&Mechanism"), m_mechanism);
  addErrorRow(form, SettingsField::mechanism);

  m_dOut = new QSpinBox;
  m_dOut->setObjectName(QStringLiteral("dOut"));
  m_dOut->setRange(0, 4096);
  m_dOut->setSpecialValueText(tr("= d_in"));
  m_dOut->setToolTip(tr("Output width: per head for the wrapper, split across the heads for multi-head"));
  form->addRow(tr("d_&out"), m_dOut);
  addErrorRow(form, SettingsField::dOut);

  m_heads = new QSpinBox;
  m_heads->setObjectName(QStringLiteral("heads"));
  m_heads->setRange(1, 64);
  form->addRow(tr("&Heads"), m_heads);
  addErrorRow(form, SettingsField::heads);

  m_seed = seedEdit(QString());
  m_seed->setObjectName(QStringLiteral("seed"));
  m_seed->setToolTip(tr("torch.manual_seed before the module is constructed"));
  form->addRow(tr("&Seed"), m_seed);
  addErrorRow(form, SettingsField::seed);

  m_qkvBias = new QCheckBox(tr("q, k, v projections have a bias"));
  m_qkvBias->setObjectName(QStringLiteral("qkvBias"));
  form->addRow(tr("Bias"), m_qkvBias);

  m_dropout = new QDoubleSpinBox;
  m_dropout->setObjectName(QStringLiteral("dropout"));
  m_dropout->setRange(0.0, 0.95);
  m_dropout->setSingleStep(0.05);
  m_dropout->setDecimals(2);
  m_dropout->setToolTip(tr("Dropout on the attention weights (training mode), causal and multi-head only"));
  m_dropoutSeed = seedEdit(tr("continue the generator"));
  m_dropoutSeed->setObjectName(QStringLiteral("dropoutSeed"));
  m_dropoutSeed->setToolTip(tr("torch.manual_seed right before the first dropout draw (the book uses 123)"));
  form->addRow(tr("&Dropout"), m_dropout);
  form->addRow(tr("Dropout seed"), m_dropoutSeed);
  addErrorRow(form, SettingsField::dropout);

  m_normalization = new QComboBox;
  m_normalization->setObjectName(QStringLiteral("normalization"));
  m_normalization->addItem(tr("softmax"), int(Normalization::softmax));
  m_normalization->addItem(tr("divide by the sum"), int(Normalization::sum));
  m_normalization->setItemData(1, tr("The notebook's first attempt: scores / scores.sum()"), Qt::ToolTipRole);
  form->addRow(tr("&Normalisation"), m_normalization);
  addErrorRow(form, SettingsField::normalization);

  connect(m_mechanism, &QComboBox::currentIndexChanged, this, &SettingsPanel::onEdited);
  connect(m_dOut, &QSpinBox::valueChanged, this, &SettingsPanel::onEdited);
  connect(m_heads, &QSpinBox::valueChanged, this, &SettingsPanel::onEdited);
  connect(m_seed, &QLineEdit::textEdited, this, &SettingsPanel::onEdited);
  connect(m_qkvBias, &QCheckBox::toggled, this, &SettingsPanel::onEdited);
  connect(m_dropout, &QDoubleSpinBox::valueChanged, this, &SettingsPanel::onEdited);
  connect(m_dropoutSeed, &QLineEdit::textEdited, this, &SettingsPanel::onEdited);
  connect(m_normalization, &QComboBox::currentIndexChanged, this, &SettingsPanel::onEdited);
  return group;
}

QWidget* SettingsPanel::buildMasksGroup() {
  auto* group = new QGroupBox(tr("Masks (one grid row each)"));
  auto* form = new QFormLayout(group);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);

  m_maskNone = new QCheckBox(tr("none"));
  m_maskNone->setObjectName(QStringLiteral("maskNone"));
  m_maskNone->setToolTip(tr("Every query sees every key"));
  m_maskCausal = new QCheckBox(tr("causal"));
  m_maskCausal->setObjectName(QStringLiteral("maskCausal"));
  m_maskCausal->setToolTip(tr("A query sees itself and the keys before it"));
  form->addRow(row({m_maskNone, m_maskCausal}));

  m_maskWindow = new QCheckBox(tr("window, W ="));
  m_maskWindow->setObjectName(QStringLiteral("maskWindow"));
  m_maskWindow->setToolTip(tr("Causal, and only the W most recent keys (the query's own included)"));
  m_windowSize = new QSpinBox;
  m_windowSize->setObjectName(QStringLiteral("windowSize"));
  m_windowSize->setRange(1, 100000);
  m_windowSize->setValue(3);
  form->addRow(row({m_maskWindow, m_windowSize}));

  m_maskPrefix = new QCheckBox(tr("prefix, P ="));
  m_maskPrefix->setObjectName(QStringLiteral("maskPrefix"));
  m_maskPrefix->setToolTip(tr("Prefix-LM: the first P keys are seen by every query, causal after"));
  m_prefixSize = new QSpinBox;
  m_prefixSize->setObjectName(QStringLiteral("prefixSize"));
  m_prefixSize->setRange(0, 100000);
  m_prefixSize->setValue(2);
  form->addRow(row({m_maskPrefix, m_prefixSize}));

  m_maskFile = new QCheckBox(tr("file"));
  m_maskFile->setObjectName(QStringLiteral("maskFile"));
  m_maskFile->setToolTip(tr("A 0/1 matrix, 1 = hidden, at least n \u00d7 n (the top-left block is used)"));
  m_maskPath = new QLineEdit;
  m_maskPath->setObjectName(QStringLiteral("maskPath"));
  m_maskPath->setPlaceholderText(tr("mask.csv"));
  auto* browse = new QToolButton;
  browse->setText(tr("\u2026"));
  browse->setToolTip(tr("Choose a mask file"));
  connect(browse, &QToolButton::clicked, this, [this] {
    chooseFile(m_maskPath, tr("Mask file"), tr("Masks (*.csv *.txt);;All files (*)"));
    if (!m_maskPath->text().isEmpty()) m_maskFile->setChecked(true);
  });
  auto* fileRow = new QWidget;
  auto* fileLayout = new QHBoxLayout(fileRow);
  fileLayout->setContentsMargins(0, 0, 0, 0);
  fileLayout->addWidget(m_maskFile);
  fileLayout->addWidget(m_maskPath, 1);
  fileLayout->addWidget(browse);
  form->addRow(fileRow);
  m_maskNote =
      new QLabel(tr("With a model, none and causal both show its own causal mask; window, prefix "
                    "and file hide keys on top of it."));
  m_maskNote->setObjectName(QStringLiteral("maskNote"));
  m_maskNote->setWordWrap(true);
  m_maskNote->setStyleSheet(QStringLiteral("QLabel { color: palette(dark); }"));
  form->addRow(m_maskNote);
  addErrorRow(form, SettingsField::masks);

  for (QCheckBox* box : {m_maskNone, m_maskCausal, m_maskWindow, m_maskPrefix, m_maskFile})
    connect(box, &QCheckBox::toggled, this, &SettingsPanel::onEdited);
  connect(m_windowSize, &QSpinBox::valueChanged, this, &SettingsPanel::onEdited);
  connect(m_prefixSize, &QSpinBox::valueChanged, this, &SettingsPanel::onEdited);
  connect(m_maskPath, &QLineEdit::editingFinished, this, &SettingsPanel::onEdited);
  return group;
}

QWidget* SettingsPanel::buildDisplayGroup() {
  auto* group = new QGroupBox(tr("Display"));
  auto* form = new QFormLayout(group);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);

  const std::pair<Quantity, QString> names[] = {
      {Quantity::rawScores, tr("raw scores q\u00b7k")},
      {Quantity::scaledScores, tr("scaled scores")},
      {Quantity::weights, tr("weights")},
      {Quantity::dropoutWeights, tr("weights after dropout")},
  };
  auto* boxes = new QWidget;
  auto* grid = new QGridLayout(boxes);
  grid->setContentsMargins(0, 0, 0, 0);
  int index = 0;
  for (const auto& [quantity, name] : names) {
    auto* box = new QCheckBox(name);
    box->setObjectName(QStringLiteral("show-") + slugOf(quantity));
    m_show[quantity] = box;
    grid->addWidget(box, index, 0);
    ++index;
    connect(box, &QCheckBox::toggled, this, &SettingsPanel::onEdited);
  }
  m_show[Quantity::scaledScores]->setToolTip(tr("Scores \u00d7 1/\u221ahead_dim: what softmax receives"));
  form->addRow(tr("Show"), boxes);
  addErrorRow(form, SettingsField::quantities);

  m_colorMap = new QComboBox;
  m_colorMap->setObjectName(QStringLiteral("colorMap"));
  for (const ColorMapId id : {ColorMapId::viridis, ColorMapId::magma, ColorMapId::cividis})
    m_colorMap->addItem(toString(id), int(id));
  m_colorMap->setToolTip(
      tr("Colour map of the weights; scores always use blue\u2013white\u2013red centred on 0"));
  form->addRow(tr("&Colour map"), m_colorMap);

  m_range = new QComboBox;
  m_range->setObjectName(QStringLiteral("colorRange"));
  m_range->addItem(tr("shared across maps"), true);
  m_range->addItem(tr("per map"), false);
  form->addRow(tr("Colour &range"), m_range);

  m_reduction = new QComboBox;
  m_reduction->setObjectName(QStringLiteral("reduction"));
  m_reduction->addItem(tr("max of each block"), int(Reduction::max));
  m_reduction->addItem(tr("mean of each block"), int(Reduction::mean));
  m_reduction->setToolTip(
      tr("A map with more tokens than pixels draws each block of cells as one; zoom in to see every cell"));
  form->addRow(tr("&Large maps"), m_reduction);

  m_headSummary = new QComboBox;
  m_headSummary->setObjectName(QStringLiteral("headSummary"));
  m_headSummary->addItem(tr("each head"), int(HeadSummary::none));
  m_headSummary->addItem(tr("each head + mean of heads"), int(HeadSummary::mean));
  m_headSummary->addItem(tr("each head + max of heads"), int(HeadSummary::max));
  m_headSummary->addItem(tr("each head + rollout to this layer"), int(HeadSummary::rollout));
  m_headSummary->setToolTip(
      tr("An extra map per mask row: the mean or the largest value of the heads, cell by cell, or for a "
         "model the attention rollout (Abnar & Zuidema, 2020) from layer 0 up to the layer shown"));
  form->addRow(tr("&Heads"), m_headSummary);

  m_statReadouts = new QCheckBox(tr("Statistics &under each map"));
  m_statReadouts->setObjectName(QStringLiteral("statReadouts"));
  m_statReadouts->setToolTip(
      tr("A line under each map's title: entropy in bits, and the mean weight on the query itself, the "
         "previous token and the first token"));
  form->addRow(QString(), m_statReadouts);

  connect(m_statReadouts, &QCheckBox::toggled, this, &SettingsPanel::onEdited);
  connect(m_headSummary, &QComboBox::currentIndexChanged, this, &SettingsPanel::onEdited);
  connect(m_colorMap, &QComboBox::currentIndexChanged, this, &SettingsPanel::onEdited);
  connect(m_range, &QComboBox::currentIndexChanged, this, &SettingsPanel::onEdited);
  connect(m_reduction, &QComboBox::currentIndexChanged, this, &SettingsPanel::onEdited);
  return group;
}

QWidget* SettingsPanel::buildDeviceGroup() {
  auto* group = new QGroupBox(tr("Device"));
  auto* form = new QFormLayout(group);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  m_device = new QComboBox;
  m_device->setObjectName(QStringLiteral("device"));
  for (const BackendInfo& backend : list_backends()) {
    m_device->addItem(toQString(backend.name), int(backend.device));
    const int index = m_device->count() - 1;
    m_device->setItemData(index, toQString(backend.description), Qt::ToolTipRole);
    if (!backend.available) {
      // Listed with the reason, but not selectable.
      m_device->setItemText(index, tr("%1 (unavailable)").arg(toQString(backend.name)));
      m_device->setItemData(index, 0, Qt::UserRole - 1);
    }
  }
  m_device->addItem(tr("auto (best available)"), int(Device::automatic));
  form->addRow(tr("Compute &on"), m_device);
  addErrorRow(form, SettingsField::device);
  addErrorRow(form, SettingsField::general);
  connect(m_device, &QComboBox::currentIndexChanged, this, &SettingsPanel::onEdited);
  return group;
}

void SettingsPanel::chooseFile(QLineEdit* target, const QString& title, const QString& filter) {
  const QString path = QFileDialog::getOpenFileName(this, title, target->text(), filter);
  if (path.isEmpty()) return;
  target->setText(path);
  onEdited();
}

void SettingsPanel::setSettings(const ViewSettings& settings) {
  if (settings == m_settings) return;
  m_settings = settings;
  showSettings();
}

void SettingsPanel::showSettings() {
  m_updating = true;
  const ViewSettings& s = m_settings;
  select(m_tokenizer, int(s.tokenizer));
  select(m_source, int(s.embeddingSource));
  m_file->setText(s.embeddingsFile);
  m_dIn->setValue(s.embeddingSource == EmbeddingSource::book ? 3 : s.dIn);
  m_embeddingSeed->setText(seedText(s.embeddingSeed));
  select(m_mechanism, int(s.mechanism));
  m_dOut->setValue(s.dOut);
  m_heads->setValue(s.heads);
  m_seed->setText(QString::number(s.seed));
  m_qkvBias->setChecked(s.qkvBias);
  m_dropout->setValue(s.dropout);
  m_dropoutSeed->setText(seedText(s.dropoutSeed));
  select(m_normalization, int(s.normalization));

  const auto find = [&s](MaskKind kind) -> const MaskSpec* {
    for (const MaskSpec& mask : s.masks)
      if (mask.kind == kind) return &mask;
    return nullptr;
  };
  m_maskNone->setChecked(find(MaskKind::none));
  m_maskCausal->setChecked(find(MaskKind::causal));
  const MaskSpec* window = find(MaskKind::window);
  m_maskWindow->setChecked(window);
  if (window) m_windowSize->setValue(window->size);
  const MaskSpec* prefix = find(MaskKind::prefix);
  m_maskPrefix->setChecked(prefix);
  if (prefix) m_prefixSize->setValue(prefix->size);
  const MaskSpec* file = find(MaskKind::file);
  m_maskFile->setChecked(file);
  if (file) m_maskPath->setText(QString::fromStdString(file->path));

  for (auto& [quantity, box] : m_show)
    box->setChecked(std::find(s.display.quantities.begin(), s.display.quantities.end(), quantity) !=
                    s.display.quantities.end());
  select(m_colorMap, int(s.display.colorMap));
  select(m_range, s.display.sharedRange);
  select(m_reduction, int(s.display.reduction));
  select(m_device, int(s.device));
  select(m_headSummary, int(s.display.headSummary));
  m_statReadouts->setChecked(s.display.statReadouts);
  m_modelName->setText(s.modelFolder.isEmpty()
                           ? tr("none: the book's mechanisms")
                           : QFileInfo(s.modelFolder).fileName() + QStringLiteral("  (") +
                                 QDir::toNativeSeparators(s.modelFolder) + QLatin1Char(')'));
  m_modelName->setToolTip(s.modelFolder);
  m_layer->setValue(s.layer);
  updateEnabledFields();
  m_updating = false;
}

void SettingsPanel::updateEnabledFields() {
  const auto source = static_cast<EmbeddingSource>(m_source->currentData().toInt());
  const auto mechanism = static_cast<Mechanism>(m_mechanism->currentData().toInt());
  const bool model = !m_settings.modelFolder.isEmpty();
  m_closeModel->setEnabled(model);
  m_layer->setEnabled(model);
  // Rollout follows attention through a model's layers; a chapter 3 mechanism has one.
  auto* summaries = qobject_cast<QStandardItemModel*>(m_headSummary->model());
  QStandardItem* rollout = summaries->item(m_headSummary->findData(int(HeadSummary::rollout)));
  rollout->setEnabled(model);
  rollout->setToolTip(model ? QString() : tr("Open a GPT-2 model first: rollout needs its layers"));
  m_modelNote->setVisible(model);
  m_maskNote->setVisible(model);
  // A model brings its own tokenizer, embeddings, mechanism and device.
  m_tokenizer->setEnabled(!model);
  m_source->setEnabled(!model);
  m_mechanismGroup->setEnabled(!model);
  m_device->setEnabled(!model);
  // Always there, enabled for File…: choosing a source moves nothing.
  m_fileRow->setEnabled(!model && source == EmbeddingSource::file);
  m_dIn->setEnabled(!model && source == EmbeddingSource::seeded);
  m_embeddingSeed->setEnabled(!model && source != EmbeddingSource::file);
  const bool multihead = mechanism == Mechanism::multihead || mechanism == Mechanism::multihead_wrapper;
  m_heads->setEnabled(multihead);
  m_heads->setToolTip(multihead ? tr("Number of heads")
                                : tr("Only the multi-head mechanisms have several heads"));
  m_dOut->setEnabled(mechanism != Mechanism::simplified);
  m_qkvBias->setEnabled(mechanism != Mechanism::simplified && mechanism != Mechanism::self_attention_v1);
  const bool dropout = !model && has_dropout(mechanism);
  m_dropout->setEnabled(dropout);
  m_dropoutSeed->setEnabled(dropout);
  m_show[Quantity::dropoutWeights]->setEnabled(dropout && m_dropout->value() > 0.0);
  m_show[Quantity::dropoutWeights]->setToolTip(
      dropout && m_dropout->value() > 0.0 ? QString()
                                          : tr("Set a dropout above 0 (causal or multi-head) first"));
  m_windowSize->setEnabled(m_maskWindow->isChecked());
  m_prefixSize->setEnabled(m_maskPrefix->isChecked());
  m_maskPath->setEnabled(m_maskFile->isChecked());
}

bool SettingsPanel::readWidgets(ViewSettings& s) {
  s.tokenizer = static_cast<TokenizerKind>(m_tokenizer->currentData().toInt());
  s.embeddingSource = static_cast<EmbeddingSource>(m_source->currentData().toInt());
  s.embeddingsFile = m_file->text().trimmed();
  if (s.embeddingSource != EmbeddingSource::book) s.dIn = m_dIn->value();
  s.mechanism = static_cast<Mechanism>(m_mechanism->currentData().toInt());
  s.dOut = m_dOut->value();
  s.heads = m_heads->value();
  s.qkvBias = m_qkvBias->isChecked();
  s.dropout = m_dropout->value();
  s.normalization = static_cast<Normalization>(m_normalization->currentData().toInt());

  bool valid = true;
  const auto readSeed = [&valid, this](QLineEdit* edit, bool optional, std::optional<std::uint64_t>& out) {
    const QString text = edit->text().trimmed();
    if (text.isEmpty() && optional) {
      out.reset();
      return;
    }
    bool ok = false;
    const std::uint64_t seed = text.toULongLong(&ok);
    if (!ok) {
      setFieldError(SettingsField::seed,
                    text.isEmpty() ? tr("Enter a seed (a whole number).")
                                   : tr("%1 is not a seed: use a whole number below 2^64.").arg(text));
      valid = false;
      return;
    }
    out = seed;
  };
  std::optional<std::uint64_t> seed = s.seed;
  readSeed(m_seed, false, seed);
  if (seed) s.seed = *seed;
  readSeed(m_embeddingSeed, true, s.embeddingSeed);
  readSeed(m_dropoutSeed, true, s.dropoutSeed);

  // Masks keep the order they had (a session or --masks may list them in any order); new ones go last.
  std::vector<MaskSpec> wanted;
  if (m_maskNone->isChecked()) wanted.push_back({MaskKind::none, 0, {}});
  if (m_maskCausal->isChecked()) wanted.push_back({MaskKind::causal, 0, {}});
  if (m_maskWindow->isChecked()) wanted.push_back({MaskKind::window, m_windowSize->value(), {}});
  if (m_maskPrefix->isChecked()) wanted.push_back({MaskKind::prefix, m_prefixSize->value(), {}});
  if (m_maskFile->isChecked()) {
    if (m_maskPath->text().trimmed().isEmpty())
      setFieldError(SettingsField::masks, tr("Choose a mask file (a 0/1 matrix, 1 = hidden)."));
    else
      wanted.push_back({MaskKind::file, 0, m_maskPath->text().trimmed().toStdString()});
  }
  std::vector<MaskSpec> masks;
  std::vector<bool> used(wanted.size(), false);
  for (const MaskSpec& mask : s.masks)
    for (std::size_t i = 0; i < wanted.size(); ++i)
      if (!used[i] && wanted[i].kind == mask.kind) {
        masks.push_back(wanted[i]);
        used[i] = true;
        break;
      }
  for (std::size_t i = 0; i < wanted.size(); ++i)
    if (!used[i]) masks.push_back(wanted[i]);
  s.masks = masks;

  s.display.quantities.clear();
  for (const Quantity quantity : allQuantities())
    if (m_show[quantity]->isChecked()) s.display.quantities.push_back(quantity);
  s.display.colorMap = static_cast<ColorMapId>(m_colorMap->currentData().toInt());
  s.display.sharedRange = m_range->currentData().toBool();
  s.display.reduction = static_cast<Reduction>(m_reduction->currentData().toInt());
  s.device = static_cast<Device>(m_device->currentData().toInt());
  s.layer = m_layer->value();
  s.display.headSummary = static_cast<HeadSummary>(m_headSummary->currentData().toInt());
  s.display.statReadouts = m_statReadouts->isChecked();
  return valid;
}

void SettingsPanel::onEdited() {
  if (m_updating) return;
  updateEnabledFields();
  setFieldError(SettingsField::seed, QString());
  ViewSettings settings = m_settings;
  if (!readWidgets(settings)) return;  // the error is shown; nothing to compute until it is fixed
  setFieldError(SettingsField::quantities,
                settings.display.quantities.empty() ? tr("Tick at least one quantity to show.") : QString());
  if (settings == m_settings) return;
  m_settings = settings;
  emit settingsChanged(m_settings);
}

void SettingsPanel::setFieldError(SettingsField field, const QString& message) {
  const auto it = m_errors.find(field);
  if (it == m_errors.end()) return;
  it->second->setText(message);
  it->second->setVisible(!message.isEmpty());
  placeErrors();
}

QLabel* SettingsPanel::fieldErrorLabel(SettingsField field) const {
  const auto it = m_errors.find(field);
  return it == m_errors.end() ? nullptr : it->second;
}

void SettingsPanel::clearFieldErrors() {
  for (auto& [field, label] : m_errors) {
    if (field == SettingsField::seed || field == SettingsField::quantities)
      continue;  // the panel's own checks
    label->clear();
    label->hide();
  }
}

QString SettingsPanel::fieldError(SettingsField field) const {
  const auto it = m_errors.find(field);
  return it == m_errors.end() ? QString() : it->second->text();
}

void SettingsPanel::setEmbeddingsNote(const QString& note) {
  m_embeddingsNoteText = note;
  showEmbeddingsNote();
}

void SettingsPanel::showEmbeddingsNote() {
  const int width = m_embeddingsNote->contentsRect().width();
  const QString shown =
      width > 0 ? elidedToLines(m_embeddingsNoteText, m_embeddingsNote->font(), width, kEmbeddingsNoteLines)
                : m_embeddingsNoteText;
  m_embeddingsNote->setText(shown);
  m_embeddingsNote->setToolTip(shown == m_embeddingsNoteText ? QString() : m_embeddingsNoteText);
}

void SettingsPanel::setBookEmbeddingsReplaced(bool replaced) {
  const QString shown =
      replaced ? tr("Seeded table \u2014 the book's embeddings need the book's sentence") : tr("Book preset");
  m_source->setItemText(0, shown);
  m_source->setToolTip(replaced ? shown : QString());
  m_useBookSentence->setEnabled(replaced);
}

QString SettingsPanel::embeddingsShown() const {
  return m_source->currentText();
}

QSize SettingsPanel::sizeHint() const {
  return QSize(widget()->minimumSizeHint().width() + verticalScrollBar()->sizeHint().width(),
               QScrollArea::sizeHint().height());
}

void SettingsPanel::setModel(ScopeModel* model) {
  setSettings(model->settings());
  connect(model, &ScopeModel::settingsChanged, this, &SettingsPanel::setSettings);
  connect(this, &SettingsPanel::settingsChanged, model, [model](const ViewSettings& settings) {
    ViewSettings edited = settings;
    edited.text = model->settings().text;  // the editor owns the text
    model->setSettings(edited);
  });
  connect(this, &SettingsPanel::bookSentenceRequested, model, [model] {
    ViewSettings settings = model->settings();
    settings.text = toQString(book_preset().text);
    settings.tokenizer = TokenizerKind::whitespace;
    model->setSettings(settings);
  });
  connect(model, &ScopeModel::snapshotChanged, this, [this](const SnapshotPointer& snapshot) {
    setEmbeddingsNote(snapshot ? snapshot->embeddingsNote : QString());
    setBookEmbeddingsReplaced(snapshot && snapshot->bookEmbeddingsReplaced);
    if (snapshot && snapshot->model) setLayerCount(snapshot->model->config.n_layer);
  });
}

QString SettingsPanel::embeddingsNote() const {
  return m_embeddingsNoteText;
}

void SettingsPanel::setLayerCount(int layers) {
  m_updating = true;
  m_layer->setRange(0, layers > 0 ? layers - 1 : 4096);
  m_updating = false;
}

}  // namespace attnscope::ui
