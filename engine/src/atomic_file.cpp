#include "attnscope/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "attnscope/error.hpp"

namespace attnscope {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, int error_number) {
  throw Error("cannot write " + path.string() + ": " + std::strerror(error_number));
}

// Writes `contents` to a new hidden file beside `path` and returns its name; removes it on failure.
std::string write_temporary(const std::filesystem::path& path, std::string_view contents) {
  const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : ".";
  std::string hidden_name = ".";
  hidden_name += path.filename().string();
  hidden_name += ".XXXXXX";
  std::string temporary = (directory / hidden_name).string();
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) fail(path, errno);
  std::size_t written = 0;
  while (written < contents.size()) {
    const ssize_t count = ::write(fd, contents.data() + written, contents.size() - written);
    if (count < 0) {
      if (errno == EINTR) continue;
      const int error_number = errno;
      ::close(fd);
      ::unlink(temporary.c_str());
      fail(path, error_number);
    }
    written += static_cast<std::size_t>(count);
  }
  // mkstemp creates 0600; give the file the permissions an ordinary create would.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  const int sync_error = ::fsync(fd) != 0 ? errno : 0;
  const int close_error = ::close(fd) != 0 ? errno : 0;
  if (sync_error != 0 || close_error != 0) {
    const int error_number = sync_error != 0 ? sync_error : close_error;
    ::unlink(temporary.c_str());
    fail(path, error_number);
  }
  return temporary;
}

void rename_into_place(const std::string& temporary, const std::filesystem::path& path) {
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error_number = errno;
    ::unlink(temporary.c_str());
    fail(path, error_number);
  }
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
  rename_into_place(write_temporary(path, contents), path);
}

StagedFiles::~StagedFiles() {
  for (const auto& [temporary, path] : staged_) ::unlink(temporary.c_str());
}

void StagedFiles::stage(const std::filesystem::path& path, std::string_view contents) {
  staged_.emplace_back(write_temporary(path, contents), path);
}

void StagedFiles::commit() {
  while (!staged_.empty()) {
    const auto [temporary, path] = staged_.front();
    staged_.erase(staged_.begin());
    rename_into_place(temporary, path);
  }
}

}  // namespace attnscope
