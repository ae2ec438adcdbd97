#include "common/error.hpp"

#include <fmt/format.h>

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

std::string format(const SourceLoc& loc, const std::string& key, const std::string& message, bool caret) {
  std::string where = loc.file.empty() ? "einsim" : loc.file;
  if (!loc.file.empty() && loc.line > 0) where += fmt::format(":{}:{}", loc.line, std::max(loc.col, 1));
  std::string out = fmt::format("{}: error: {}{}", where, key.empty() ? "" : key + ": ", message);
  if (caret && !loc.file.empty() && loc.line > 0) {
    const std::string text = source_line(loc.file, loc.line);
    if (!text.empty() && loc.col >= 1 && static_cast<size_t>(loc.col) <= text.size() + 1)
      out += fmt::format("\n  {}\n  {}^", text, std::string(static_cast<size_t>(loc.col - 1), ' '));
  }
  return out;
}

}  // namespace

UserError::UserError(const SourceLoc& loc, const std::string& key, const std::string& message, bool caret)
    : std::runtime_error(format(loc, key, message, caret)), loc_(loc) {}

}  // namespace einsim
