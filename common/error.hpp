#pragma once
// Errors: UserError is bad input (exit 2, one line naming file:line:col and key); InternalError is a bug.
#include <stdexcept>
#include <string>

namespace einsim {

struct SourceLoc {
  std::string file;  // empty when the input came from the command line
  int line = 0;      // 1-based; 0 when unknown
  int col = 0;       // 1-based; 0 when unknown
};

class UserError : public std::runtime_error {
 public:
  // `key` is the YAML key path ("tensors.Q.dtype") or the option ("--set"); may be empty.
  // `caret` adds the source line and a caret under the column (expression errors).
  UserError(const SourceLoc& loc, const std::string& key, const std::string& message, bool caret = false);
  explicit UserError(const std::string& message) : UserError(SourceLoc{}, "", message) {}

  const SourceLoc& loc() const { return loc_; }

 private:
  SourceLoc loc_;
};

class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& message) : std::logic_error(message) {}
};

}  // namespace einsim
