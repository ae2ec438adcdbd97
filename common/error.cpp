#include "common/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>

namespace einsim {
namespace {

std::string source_line(const std::string& file, int line) {
  std::ifstream in(file);
  std::string text;
  for (int i = 0; i < line && std::getline(in, text); ++i) {
  }
  return in ? text : std::string();
}

// A message stays one line whatever bytes the input held: control characters in an echoed name or value are
// written as escapes.
std::string printable(const std::string& text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
  }
  return out;
}

// The first `n` bytes of `text`, or fewer so as not to split a UTF-8 character; `tail` takes the last ones.
std::string head(const std::string& text, size_t n) {
  while (n > 0 && n < text.size() && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}
std::string tail(const std::string& text, size_t n) {
  size_t from = text.size() - std::min(n, text.size());
  while (from < text.size() && (static_cast<unsigned char>(text[from]) & 0xC0) == 0x80) ++from;
  return text.substr(from);
}

// A name or value the input spelt out at length is echoed as its first 100 and last 12 characters, and a
// message that is still long (a key of many words) as its first 300 and last 100.
std::string shorten(const std::string& text) {
  constexpr size_t kLongest = 120, kHead = 100, kTail = 12;
  constexpr size_t kLongestMessage = 420, kMessageHead = 300, kMessageTail = 100;
  std::string out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    out += word.size() > kLongest ? head(word, kHead) + "..." + tail(word, kTail) : word;
    if (end < text.size()) out += ' ';
    start = end + 1;
  }
  if (out.size() > kLongestMessage) out = head(out, kMessageHead) + " ... " + tail(out, kMessageTail);
  return out;
}

// The source line under an error, one character per character so the caret stays under its column.
std::string excerpt(std::string text) {
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return text;
}

std::string format(const SourceLoc& loc, const std::string& key, const std::string& message, bool caret) {
  std::string where = loc.file.empty() ? "einsim" : loc.file;
  if (!loc.file.empty() && loc.line > 0) where += fmt::format(":{}:{}", loc.line, std::max(loc.col, 1));
  std::string out = printable(where) + ": error: " + shorten(printable(key.empty() ? message : key + ": " + message));
  if (caret && !loc.file.empty() && loc.line > 0) {
    const std::string text = source_line(loc.file, loc.line);
    if (!text.empty() && loc.col >= 1 && static_cast<size_t>(loc.col) <= text.size() + 1)
      out += fmt::format("\n  {}\n  {}^", excerpt(text), std::string(static_cast<size_t>(loc.col - 1), ' '));
  }
  return out;
}

}  // namespace

UserError::UserError(const SourceLoc& loc, const std::string& key, const std::string& message, bool caret)
    : std::runtime_error(format(loc, key, message, caret)), loc_(loc) {}

}  // namespace einsim
