#pragma once
// Safe writes, for every file AttnScope writes: results, exports, sessions.

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attnscope {

// Writes `contents` to a temporary file beside `path`, flushes it and renames it into place, so a failed
// write never leaves `path` half-written or destroys what was there. Throws Error with the reason.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

// Several files that appear together or not at all (each map of a grid to a folder): each is written to a
// temporary beside its target as it comes; commit() renames them all into place. Files not committed (a
// failure, a Cancel) are removed when the set is destroyed, so the targets are left as they were.
class StagedFiles {
 public:
  StagedFiles() = default;
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;
  ~StagedFiles();

  void stage(const std::filesystem::path& path, std::string_view contents);  // throws Error
  // Throws Error when a rename fails; the files not renamed yet are then removed with the set.
  void commit();

 private:
  std::vector<std::pair<std::string, std::filesystem::path>> staged_;  // temporary, target
};

}  // namespace attnscope
