// .attnscope session files as the app opens them: SessionFile::fromBytes (Qt's JSON reader, then
// ViewSettings::fromJson), then AttentionInput::fromSettings, where the values that the file alone cannot
// judge (mask and head counts against the text, d_out against d_in) are refused. Whatever the bytes, each
// step returns or throws attnscope::Error with a one-line message; the reader's heap stays within a few times
// its input. Settings it returns are written by SessionFile::toBytes and read back equal, and an input built
// from them is consistent: one embeddings row per token, a configuration validate() accepts.
//
// Paths in a session (embeddings.file, file:PATH masks) are replaced by a path that does not exist before
// fromSettings, so that an input never makes the harness read the machine's files; fuzz_npy, fuzz_csv and
// fuzz_mask cover those readers.

#include <QByteArray>
#include <QString>
#include <cstdint>
#include <string>
#include <string_view>

#include "attnscope/error.hpp"
#include "compute/attention_input.hpp"
#include "fuzz_support.hpp"
#include "session/session_file.hpp"
#include "state/view_settings.hpp"

namespace {

using attnscope::fuzz::check_attention_input;
using attnscope::fuzz::check_message;

// Seeded tables are tokens × d_in floats drawn one by one: larger ones would only make the harness slow.
constexpr std::int64_t kLargestTable = 1 << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const QByteArray bytes =
      QByteArray::fromRawData(reinterpret_cast<const char*>(data), static_cast<qsizetype>(size));
  const QString name = QStringLiteral("fuzz.attnscope");
  attnscope::ui::ViewSettings settings;
  {
    // Qt's JSON tree and QStrings cost a few tens of bytes per byte of input.
    const attnscope::fuzz::HeapBudget budget(128 * size + 256 * 1024);
    try {
      settings = attnscope::ui::SessionFile::fromBytes(bytes, name);
    } catch (const attnscope::Error& error) {
      budget.check("SessionFile::fromBytes");
      check_message(error.what(), "fuzz.attnscope: ");
      return 0;
    }
    budget.check("SessionFile::fromBytes");
  }

  const QByteArray written = attnscope::ui::SessionFile::toBytes(settings);
  attnscope::ui::ViewSettings again;
  try {
    again = attnscope::ui::SessionFile::fromBytes(written, QStringLiteral("again.attnscope"));
  } catch (const attnscope::Error& error) {
    FUZZ_CHECK(false, std::string("the session it wrote does not read back: ") + error.what());
  }
  FUZZ_CHECK(again == settings, "written out and read again, the settings differ");

  settings.embeddingsFile = QStringLiteral("/nonexistent/attnscope-fuzz/embeddings.npy");
  for (attnscope::MaskSpec& mask : settings.masks)
    if (mask.kind == attnscope::MaskKind::file) mask.path = "/nonexistent/attnscope-fuzz/mask.csv";
  if (static_cast<std::int64_t>(settings.text.size()) * settings.dIn > kLargestTable) return 0;
  attnscope::ui::AttentionInput input;
  try {
    input = attnscope::ui::AttentionInput::fromSettings(settings);
  } catch (const attnscope::Error& error) {
    check_message(error.what(), "");
    return 0;
  }
  FUZZ_CHECK(input.masks == settings.masks, "the input's masks differ from the settings'");
  if (input.tokens.empty()) return 0;
  check_attention_input(input.tokens.size(), input.embeddings, input.config, "fromSettings");
  return 0;
}
