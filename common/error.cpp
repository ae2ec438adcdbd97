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

// The bytes of the character at text[i] when it is one other readers take for a line break beyond ASCII's (U+0085
// and the other C1 controls, U+2028, U+2029, in UTF-8), else 0.
size_t unicode_break_at(const std::string& text, size_t i) {
  const auto at = [&](size_t k) { return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0; };
  if (at(0) == 0xC2 && at(1) >= 0x80 && at(1) <= 0x9F) return 2;
  if (at(0) == 0xE2 && at(1) == 0x80 && (at(2) == 0xA8 || at(2) == 0xA9)) return 3;
  return 0;
}

// A message stays one line whatever bytes the input held: control characters in an echoed name or value are
// written as escapes, and so are the characters unicode_break_at finds.
std::string printable(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto byte = static_cast<unsigned char>(c);
    if (const size_t n = unicode_break_at(text, i); n > 0) {
      const auto last = static_cast<unsigned char>(text[i + n - 1]);
      out += fmt::format("\\u{:04x}", n == 2 ? last : 0x2000 + last - 0x80);
      i += n - 1;
    } else if (c == '\t') {
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
  for (size_t i = 0; i < text.size(); ++i)
    if (const size_t n = unicode_break_at(text, i); n > 0)
      text.replace(i, n, n, ' ');  // a space a byte, as the column counts them
    else if (static_cast<unsigned char>(text[i]) < 0x20 || text[i] == 0x7f)
      text[i] = ' ';
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
