#pragma once
// File ▸ Export and Edit ▸ Copy Image. An export draws its images on the GUI thread one per event-loop turn
// (each into paint commands, see Exporter::record) and leaves rasterising, encoding and writing to a worker
// thread, so the window keeps repainting; a progress dialog offers Cancel, which leaves nothing behind (the
// maps of a folder are written all together or not at all). One export runs at a time.

#include <QObject>
#include <QThreadPool>
#include <memory>
#include <optional>

#include "export/exporter.hpp"
#include "state/scope_model.hpp"

class QAction;
class QProgressDialog;
class QWidget;

namespace attnscope::ui {

class ExportController : public QObject {
  Q_OBJECT

 public:
  // Exports what `model` shows; the image dialog offers the maps of `windowPlot` at its size.
  ExportController(ScopeModel* model, HeatmapPlot* windowPlot, QWidget* window);
  ~ExportController() override;

  QAction* imageAction() const { return m_imageAction; }
  QAction* eachMapAction() const { return m_eachMapAction; }
  QAction* csvAction() const { return m_csvAction; }
  QAction* jsonAction() const { return m_jsonAction; }
  QAction* copyAction() const { return m_copyAction; }
  // Where the dialogs start: the last export's folder, else Pictures.
  QString directory() const;
  QString lastDirectory() const { return m_lastDirectory; }
  void setLastDirectory(const QString& folder) { m_lastDirectory = folder; }

  // The export actions without their dialogs. Each starts in the background and reports with `finished`;
  // an export asked for while one runs fails at once.
  void exportImage(const QString& path, const ImageRequest& request, std::optional<MapKey> only = {});
  void exportEachMap(const QString& folder, const ImageRequest& request);
  void exportData(const QString& path);  // .csv or .json by suffix
  bool isExporting() const { return m_job != nullptr; }
  void cancel();
  // Runs the event loop until the export in flight is done; true when it wrote everything, else false with
  // the reason in `error`.
  bool waitForFinished(QString* error = nullptr);
  // Copies the grid as the window shows it, at its size, to the clipboard: drawn here, turned into pixels on
  // the worker; `imageCopied` says when it is there. False when there is nothing to copy.
  bool copyImage();
  QProgressDialog* progressDialog() const { return m_progress; }

 signals:
  // `message` is the status line of a written export, or why nothing was written.
  void finished(bool written, const QString& message);
  void statusMessage(const QString& message);
  void imageCopied();

 private:
  struct Job;
  struct Outcome;
  void begin(std::unique_ptr<Job> job);
  void refuse(const QString& reason);  // before anything started
  void recordNext();
  void writeInBackground();
  void end(const Outcome& outcome);
  // The image dialog as it was accepted, to reopen it with the reason when its export fails.
  struct ImageDialogState {
    int targetIndex = 0;
    QString path;
    QString problem;
  };
  void imageDialog(bool eachMap, const std::optional<ImageDialogState>& again = std::nullopt);
  void dataDialog(const QString& suffix);

  ScopeModel* m_model;
  HeatmapPlot* m_windowPlot;
  QWidget* m_window;
  QAction* m_imageAction;
  QAction* m_eachMapAction;
  QAction* m_csvAction;
  QAction* m_jsonAction;
  QAction* m_copyAction;
  QProgressDialog* m_progress = nullptr;
  QThreadPool m_pool;
  std::unique_ptr<Job> m_job;
  bool m_lastWritten = false;
  QString m_lastMessage;
  QString m_lastDirectory;
  bool m_dialogAsked = false;  // the running export came from a dialog: a failure is shown in a message box
  // The running export came from the image dialog: a failure reopens it.
  std::optional<ImageDialogState> m_imageDialogAsked;
};

}  // namespace attnscope::ui
