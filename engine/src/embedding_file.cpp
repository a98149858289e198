#include <algorithm>
#include <cctype>
#include <string>

#include "attnscope/embeddings.hpp"
#include "attnscope/error.hpp"
#include "readers.hpp"

namespace attnscope {

Matrix load_embeddings(const std::filesystem::path& path) {
  auto extension = path.extension().string();
  std::ranges::transform(extension, extension.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  Matrix embeddings;
  if (extension == ".npy") {
    embeddings = detail::read_npy(path);
  } else if (extension == ".csv" || extension == ".tsv" || extension == ".txt") {
    embeddings = detail::read_csv(path);
  } else {
    throw Error(detail::display_name(path) + ": unsupported embeddings format (expected .npy or .csv)");
  }
  detail::require_finite(embeddings, path);
  return embeddings;
}

}  // namespace attnscope
