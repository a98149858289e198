#pragma once
// Every setting of the computation and of the drawing, grouped as the pipeline runs: input, mechanism, masks,
// display, device. A problem is explained under the field that can fix it, in a note that floats over the
// panel: showing or hiding it, or a longer Embeddings note, never moves a field under the pointer.

#include <QScrollArea>
#include <map>

#include "compute/attention_input.hpp"
#include "state/scope_model.hpp"
#include "state/view_settings.hpp"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QToolButton;

namespace attnscope::ui {

class SettingsPanel : public QScrollArea {
  Q_OBJECT

 public:
  explicit SettingsPanel(QWidget* parent = nullptr);

  // Wide enough for every field; the panel can be narrower (it then scrolls sideways).
  QSize sizeHint() const override;

  // Shows the model's settings and the notes of its snapshot, and hands every edit to it (the text stays the
  // editor's).
  void setModel(ScopeModel* model);
  // Shows `settings` without emitting settingsChanged.
  void setSettings(const ViewSettings& settings);
  const ViewSettings& settings() const { return m_settings; }

  void setFieldError(SettingsField field, const QString& message);
  void clearFieldErrors();
  QString fieldError(SettingsField field) const;
  void setEmbeddingsNote(const QString& note);
  QString embeddingsNote() const;
  // The book's embeddings were asked for but a seeded table stands in: the Embeddings box says so, and a
  // button puts the book's sentence back.
  void setBookEmbeddingsReplaced(bool replaced);
  QString embeddingsShown() const;  // the Embeddings box's text
  // The floating note that explains `field`'s problem (hidden when there is none).
  QLabel* fieldErrorLabel(SettingsField field) const;
  // The open model's layer count bounds the layer field (0 while no model has computed yet: unbounded).
  void setLayerCount(int layers);

 signals:
  void openModelRequested();   // the Model group's Open button (File ▸ Open Model)
  void closeModelRequested();  // its Close button
  // The user changed a field; `settings` carries every field (the text included, as last set).
  void settingsChanged(const attnscope::ui::ViewSettings& settings);
  void bookSentenceRequested();  // "Use the book's sentence"

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  QWidget* buildModelGroup();
  QWidget* buildInputGroup();
  QWidget* buildMechanismGroup();
  QWidget* buildMasksGroup();
  QWidget* buildDisplayGroup();
  QWidget* buildDeviceGroup();
  QLabel* addErrorRow(QFormLayout* form, SettingsField field);
  void placeErrors();
  void showEmbeddingsNote();
  void showSettings();
  void updateEnabledFields();
  void onEdited();
  bool readWidgets(ViewSettings& settings);
  void chooseFile(QLineEdit* target, const QString& title, const QString& filter);

  ViewSettings m_settings;
  bool m_updating = false;
  std::map<SettingsField, QLabel*> m_errors;
  std::map<SettingsField, QWidget*> m_errorAnchors;  // the field each note floats under
  QString m_embeddingsNoteText;                      // in full; the label shows it elided to its lines

  QLabel* m_modelName;
  QToolButton* m_closeModel;
  QSpinBox* m_layer;
  QLabel* m_modelNote;
  QWidget* m_mechanismGroup = nullptr;
  QLabel* m_maskNote;

  QComboBox* m_tokenizer;
  QComboBox* m_source;
  QWidget* m_fileRow;
  QLineEdit* m_file;
  QSpinBox* m_dIn;
  QLineEdit* m_embeddingSeed;
  QLabel* m_embeddingsNote;
  QPushButton* m_useBookSentence;

  QComboBox* m_mechanism;
  QSpinBox* m_dOut;
  QSpinBox* m_heads;
  QLineEdit* m_seed;
  QCheckBox* m_qkvBias;
  QDoubleSpinBox* m_dropout;
  QLineEdit* m_dropoutSeed;
  QComboBox* m_normalization;

  QCheckBox* m_maskNone;
  QCheckBox* m_maskCausal;
  QCheckBox* m_maskWindow;
  QSpinBox* m_windowSize;
  QCheckBox* m_maskPrefix;
  QSpinBox* m_prefixSize;
  QCheckBox* m_maskFile;
  QLineEdit* m_maskPath;

  std::map<Quantity, QCheckBox*> m_show;
  QComboBox* m_colorMap;
  QComboBox* m_range;
  QComboBox* m_reduction;
  QComboBox* m_headSummary;
  QCheckBox* m_statReadouts;
  QComboBox* m_device;
};

}  // namespace attnscope::ui
