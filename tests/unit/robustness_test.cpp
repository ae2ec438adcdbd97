// No input, however malformed, crashes einsim: randomly mutated workload files must either load or raise a
// UserError, and whatever loads must analyse and (when small) execute.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "mappings/lower.hpp"
#include "sim/analytical.hpp"
#include "tests/unit/test_util.hpp"
#include "workloads/analysis.hpp"
#include "workloads/interpreter.hpp"

namespace einsim {
namespace {

std::string mutate(std::string s, std::mt19937_64& rng) {
  static const std::string alphabet = "[](),=*+-/:{}#'\" \nabcmpM0123456789_.";
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  const int edits = 1 + static_cast<int>(rng() % 3);
  for (int k = 0; k < edits && !s.empty(); ++k) {
    const size_t at = pick(s.size());
    switch (rng() % 5) {
      case 0:
        s.erase(at, 1 + pick(8));
        break;
      case 1:
        s.insert(at, 1, alphabet[pick(alphabet.size())]);
        break;
      case 2:
        s[at] = alphabet[pick(alphabet.size())];
        break;
      case 3: {  // replace a digit run with an extreme number
        static const char* numbers[] = {"0", "-1", "99999999999999999999", "4611686018427387904", "3", "1e308"};
        size_t b = s.find_first_of("0123456789", at);
        if (b == std::string::npos) break;
        size_t e = s.find_first_not_of("0123456789", b);
        s.replace(b, (e == std::string::npos ? s.size() : e) - b, numbers[pick(6)]);
        break;
      }
      default: {  // duplicate a line
        const size_t b = s.rfind('\n', at), e = s.find('\n', at);
        const size_t from = b == std::string::npos ? 0 : b + 1;
        s.insert(from, s.substr(from, (e == std::string::npos ? s.size() : e + 1) - from));
      }
    }
  }
  return s;
}

TEST(Robustness, MutatedWorkloadsNeverCrash) {
  const uint64_t seed = test::seed();
  std::mt19937_64 rng(seed);
  std::vector<std::string> sources;
  for (const std::string dir : {"configs/workloads", "tests/data"})
    for (const auto& f : std::filesystem::directory_iterator(dir))
      if (f.path().extension() == ".yaml") {
        std::ifstream in(f.path());
        std::stringstream ss;
        ss << in.rdbuf();
        sources.push_back(ss.str());
      }
  std::sort(sources.begin(), sources.end());  // directory order is not deterministic
  ASSERT_GE(sources.size(), 10u);
  int loaded = 0, rejected = 0;
  for (int i = 0; i < 4000; ++i) {
    const std::string text = mutate(sources[static_cast<size_t>(rng() % sources.size())], rng);
    const std::string file = test::temp_file("mutant.yaml", text);
    try {
      const Cascade c = load_cascade(file);
      analyze(c);
      int64_t work = 0;
      for (const Einsum& e : c.einsums) work += e.points();
      for (const Tensor& t : c.tensors) work += t.elements();
      if (work < 200000) evaluate(c, random_inputs(c, seed), EvalOptions{});
      ++loaded;
    } catch (const UserError&) {
      ++rejected;
    } catch (const std::exception& e) {
      FAIL() << "seed " << seed << " mutant " << i << ": " << e.what() << "\n" << text;
    }
  }
  EXPECT_GT(loaded, 0);
  EXPECT_GT(rejected, 0);
}

// Architectures and mappings too: whatever loads must lower and evaluate without crashing.
TEST(Robustness, MutatedArchitecturesAndMappingsNeverCrash) {
  const uint64_t seed = test::seed();
  std::mt19937_64 rng(seed + 1);
  const std::string configs = std::filesystem::absolute("configs").string();
  auto read = [&](const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    for (size_t at; (at = text.find("../")) != std::string::npos;)
      text.replace(at, 3, configs + "/");  // files move to /tmp
    return text;
  };
  std::vector<std::string> mappings, archs;
  for (const auto& f : std::filesystem::directory_iterator("configs/mappings")) mappings.push_back(read(f.path()));
  for (const auto& f : std::filesystem::directory_iterator("configs/arch")) archs.push_back(read(f.path()));
  std::sort(mappings.begin(), mappings.end());
  std::sort(archs.begin(), archs.end());
  int evaluated = 0;
  for (int i = 0; i < 1500; ++i) {
    const bool mutate_arch = i % 2 == 1;
    const std::string mapping =
        test::temp_file("mapping.yaml", mutate_arch ? mappings[rng() % mappings.size()]
                                                    : mutate(mappings[rng() % mappings.size()], rng));
    const std::string arch_text = mutate(archs[rng() % archs.size()], rng);
    try {
      const MappingSpec m = load_mapping(mapping);
      const Cascade c = load_cascade(m.workload);
      const ArchSpec a = load_arch(mutate_arch ? test::temp_file("arch.yaml", arch_text) : m.arch);
      evaluate_analytical(c, a, lower(c, a, m));
      ++evaluated;
    } catch (const UserError&) {
    } catch (const std::exception& e) {
      FAIL() << "seed " << seed << " case " << i << ": " << e.what() << "\n" << (mutate_arch ? arch_text : mapping);
    }
  }
  EXPECT_GT(evaluated, 0);
}

}  // namespace
}  // namespace einsim

namespace einsim {
namespace {

// A message stays one line of readable length whatever the input spelt: control characters escaped, a long
// name cut to its head and tail, a long message too, and never through a UTF-8 character.
TEST(ErrorMessages, StayOneReadableLine) {
  const std::string control = UserError(SourceLoc{"w.yaml", 3, 5}, "ve\rsion", "unknown key\tx\x01").what();
  EXPECT_EQ(control, "w.yaml:3:5: error: ve\\rsion: unknown key\\tx\\x01");

  const std::string name(300, 'x');
  const std::string one = UserError(SourceLoc{"w.yaml"}, "", "undefined param '" + name + "'").what();
  EXPECT_EQ(one, "w.yaml: error: undefined param '" + std::string(99, 'x') + "..." + std::string(11, 'x') + "'");

  std::string words;
  for (int i = 0; i < 400; ++i) words += "word ";
  const std::string many = UserError(SourceLoc{"w.yaml", 1, 1}, words, "unknown key").what();
  EXPECT_EQ(many.find('\n'), std::string::npos);
  EXPECT_LT(many.size(), 460u);
  EXPECT_NE(many.find(" ... "), std::string::npos);
  EXPECT_TRUE(many.ends_with("word : unknown key")) << many;

  std::string accents;  // two bytes each: a cut at an odd byte would leave half a character
  for (int i = 0; i < 150; ++i) accents += "\xc3\xa9";
  const std::string utf8 = UserError(SourceLoc{"w.yaml"}, "", "name " + accents).what();
  const size_t dots = utf8.find("...");
  ASSERT_NE(dots, std::string::npos);
  EXPECT_EQ((dots - std::string("w.yaml: error: name ").size()) % 2, 0u) << utf8;
  EXPECT_EQ((utf8.size() - dots - 3) % 2, 0u) << utf8;

  // An expression's error keeps its source line and caret, the line's tabs turned to spaces.
  const std::string file = test::temp_file("caret.yaml", "a:\n  - Z[m] =\tA[m] {\n");
  const std::string caret = UserError(SourceLoc{file, 2, 17}, "", "unexpected character '{'", true).what();
  EXPECT_EQ(caret, file + ":2:17: error: unexpected character '{'\n    - Z[m] = A[m] {\n" + std::string(18, ' ') + "^");
}

}  // namespace
}  // namespace einsim
