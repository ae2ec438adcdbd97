#include "explore/worker.hpp"

#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <nlohmann/json.hpp>

extern char** environ;

namespace einsim {

std::atomic<bool>& interrupted() {
  static std::atomic<bool> flag{false};
  return flag;
}

Stats run_worker(const std::string& exe, const SweepPart& part, Outcome& out) {
  std::vector<std::string> args = {exe, "sim", "--json", "--mapping", part.mapping};
  if (!part.arch.empty()) args.insert(args.end(), {"--arch", part.arch});
  if (!part.workload.empty()) args.insert(args.end(), {"--workload", part.workload});
  for (const std::string& f : part.params) args.insert(args.end(), {"--params", f});
  for (const auto& [k, v] : part.sets) args.insert(args.end(), {"--set", k + "=" + v});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe(fds) != 0) throw InternalError("sweep: pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  std::string text;
  if (rc == 0) {
    char buf[65536];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (rc != 0) {
    out.status = "error";
    out.reason = fmt::format("cannot start {}: {}", exe, std::strerror(rc));
    return {};
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (WIFSIGNALED(st)) {
    if (WTERMSIG(st) == SIGINT || interrupted()) out.interrupted = true;
    out.status = "error";
    out.reason = fmt::format("{}: the cycle-level worker died of signal {}", part.name, WTERMSIG(st));
    return {};
  }
  if (WEXITSTATUS(st) != 0) {
    while (!text.empty() && text.back() == '\n') text.pop_back();
    out.status = "error";
    out.reason = part.name + ": " + text.substr(text.rfind('\n') + 1);
    return {};
  }
  try {
    return stats_from_json(nlohmann::ordered_json::parse(text));
  } catch (const std::exception& e) {
    out.status = "error";
    out.reason = fmt::format("{}: unreadable worker output ({})", part.name, e.what());
    return {};
  }
}

}  // namespace einsim
