#pragma once
// Typed, location-aware reading of YAML: every error names file:line:col and the key path, and every map is
// read with MapReader so that unknown keys are errors.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace einsim {

// Records the files loaded on this thread while it lives (nested ones record into every enclosing one): what a
// result read, for hashes that must change when any of it does. Each file with a hash of its contents.
class FileReads {
 public:
  FileReads();
  ~FileReads();
  FileReads(const FileReads&) = delete;
  FileReads& operator=(const FileReads&) = delete;
  const std::vector<std::pair<std::string, uint64_t>>& files() const { return files_; }

 private:
  friend class YNode;
  FileReads* outer_;
  std::vector<std::pair<std::string, uint64_t>> files_;
};

class YNode {
 public:
  YNode(YAML::Node node, std::string file, std::string path)
      : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)) {}

  // Throws UserError on a missing file or bad YAML.
  static YNode load_file(const std::string& file);

  const YAML::Node& raw() const { return node_; }
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  SourceLoc loc() const;

  bool is_map() const { return node_.IsMap(); }
  bool is_sequence() const { return node_.IsSequence(); }
  bool is_scalar() const { return node_.IsScalar(); }
  bool is_null() const { return !node_ || node_.IsNull(); }

  std::string as_string() const;
  int64_t as_int() const;
  double as_double() const;  // accepts inf, -inf, .inf, -.inf
  bool as_bool() const;
  std::vector<YNode> items() const;  // a sequence's elements

  [[noreturn]] void fail(const std::string& message) const;

 private:
  YAML::Node node_;
  std::string file_;
  std::string path_;
};

// Sets one value in a loaded document, as a `--set` override: `path` names map keys from the root; every key
// but the last must exist. `option` ("--set arch.glb.size") names the override in errors.
void set_path(const YNode& root, const std::vector<std::string>& path, const std::string& value,
              const std::string& option);
// "glb.size" -> {"glb", "size"}: a `--set` path's keys.
std::vector<std::string> split_path(const std::string& path);

// Reads a map key by key; finish() rejects the keys nobody asked for.
class MapReader {
 public:
  explicit MapReader(const YNode& node);
  ~MapReader() = default;
  MapReader(const MapReader&) = delete;
  MapReader& operator=(const MapReader&) = delete;

  std::optional<YNode> optional(const std::string& key);
  YNode required(const std::string& key);
  // Every entry in file order, each marked as read: for free-form maps such as params and tensors.
  std::vector<std::pair<std::string, YNode>> entries();
  void finish() const;

 private:
  struct Entry {
    std::string key;
    YNode value;
    SourceLoc key_loc;
    bool used = false;
  };
  const YNode& node_;
  std::vector<Entry> entries_;
  std::vector<std::string> asked_;  // for the hint on an unknown key
};

// Reads a document's `version` key; every einsim file format is at version 1.
void read_version(MapReader& top);

}  // namespace einsim
