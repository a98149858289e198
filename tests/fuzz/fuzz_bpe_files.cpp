// attnscope::BpeTokenizer::parse on arbitrary vocab.json and merges.txt: the input's bytes before its first
// NUL are vocab.json, the bytes after it merges.txt (none: an empty merges.txt). parse either throws
// attnscope::Error with a one-line message naming the file ("vocab.json: …", "merges.txt: line N: …"), or
// gives a tokenizer whose every id has a piece that finds it again, that has a piece for each byte, and that
// encodes text (the input itself, when it is UTF-8, and a fixed sentence) to ids that decode to the text
// again, the ids tokenize gives too. Memory stays linear in the input.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attnscope/bpe_tokenizer.hpp"
#include "attnscope/error.hpp"
#include "fuzz_support.hpp"

namespace {

using attnscope::BpeTokenizer;
namespace fuzz = attnscope::fuzz;

void check_encoding(const BpeTokenizer& tokenizer, std::string_view text) {
  const auto ids = tokenizer.encode(text);
  FUZZ_CHECK(tokenizer.decode(ids) == text, text);
  const auto tokens = tokenizer.tokenize(text);
  FUZZ_CHECK(tokens.size() == ids.size(), text);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    FUZZ_CHECK(tokens[i].id == ids[i], tokens[i].piece);
    FUZZ_CHECK(tokens[i].piece == tokenizer.piece(ids[i]), tokens[i].piece);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nul = input.find('\0');
  const auto vocab = input.substr(0, nul);
  const auto merges = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

  const fuzz::HeapBudget budget(1024 * size + (1 << 20));
  try {
    const auto tokenizer = BpeTokenizer::parse(vocab, merges);
    budget.check("parse");
    const int count = tokenizer.vocab_size();
    FUZZ_CHECK(count >= 256 && static_cast<std::size_t>(count) <= size, "vocabulary size");
    for (int id = 0; id < count; ++id) {
      const auto& piece = tokenizer.piece(id);
      FUZZ_CHECK(!piece.empty() && fuzz::is_valid_utf8(piece), piece);
      FUZZ_CHECK(tokenizer.find(piece) == id, piece);
      (void)attnscope::bpe_display(piece);
    }
    check_encoding(tokenizer, "Hello world, it's 2024!  \xF0\x9F\x91\x8B caf\xC3\xA9\n");
    if (fuzz::is_valid_utf8(input)) check_encoding(tokenizer, input);
  } catch (const attnscope::Error& error) {
    const std::string_view message = error.what();
    fuzz::check_message(message, message.starts_with("merges.txt: ") ? "merges.txt: " : "vocab.json: ");
  }
  return 0;
}
