#include "explore/worker.hpp"

#include <fmt/format.h>
#include <fcntl.h>
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

Stats run_worker(const std::string& exe, const SpecInputs& point, const std::string& part, Outcome& out) {
  // `exe worker` reads the design point from its standard input and prints its Stats; its errors and any crash
  // are this part's.
  std::vector<std::string> args = {exe, "worker"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Close-on-exec: a worker another thread starts meanwhile must not inherit these ends. One holding this
  // worker's input open would keep it waiting for the end of its input (two such workers wait on each other).
  int from_child[2], to_child[2];
  if (pipe2(from_child, O_CLOEXEC) != 0) throw InternalError("sweep: pipe failed");
  if (pipe2(to_child, O_CLOEXEC) != 0) {
    close(from_child[0]);
    close(from_child[1]);
    throw InternalError("sweep: pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], 2);
  posix_spawn_file_actions_addclose(&actions, from_child[0]);
  posix_spawn_file_actions_addclose(&actions, to_child[1]);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(from_child[1]);
  close(to_child[0]);
  if (rc == 0) {
    // A point is a few hundred bytes: far below a pipe's buffer, so the write cannot block on the child. A child
    // that dies first closes its end: the write fails (SIGPIPE is ignored while a sweep runs) and its death is
    // reported below.
    const std::string input = to_json(point).dump();
    [[maybe_unused]] const ssize_t written = write(to_child[1], input.data(), input.size());
  }
  close(to_child[1]);
  std::string text;
  if (rc == 0) {
    char buf[65536];
    for (ssize_t n; (n = read(from_child[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  }
  close(from_child[0]);
  if (rc != 0) {
    out.status = PointStatus::error;
    out.reason = fmt::format("cannot start {}: {}", exe, std::strerror(rc));
    return {};
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (WIFSIGNALED(st)) {
    if (WTERMSIG(st) == SIGINT || interrupted()) out.interrupted = true;
    out.status = PointStatus::error;
    out.reason = fmt::format("{}: the cycle-level worker died of signal {}", part, WTERMSIG(st));
    return {};
  }
  if (WEXITSTATUS(st) != 0) {
    while (!text.empty() && text.back() == '\n') text.pop_back();
    out.status = PointStatus::error;
    out.reason = part + ": " + text.substr(text.rfind('\n') + 1);
    return {};
  }
  try {
    return stats_from_json(nlohmann::ordered_json::parse(text));
  } catch (const std::exception& e) {
    out.status = PointStatus::error;
    out.reason = fmt::format("{}: unreadable worker output ({})", part, e.what());
    return {};
  }
}

}  // namespace einsim
