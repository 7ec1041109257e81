#pragma once
// Helpers for the bridge's end-to-end tests: interactive child processes (lwm2m-node-lib's server
// as the upstream, lwgate-sim as the device) driven line by line through their stdin, and a
// free UDP port for an upstream server that must come back on the same port after a restart.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace lwgate::e2e::bridge_e2e {

using namespace std::chrono_literals;

// A child process with a pipe on its stdin; stdout and stderr in <dir>/<name>.out/.err.
class Interactive {
 public:
  Interactive(std::string dir, std::string name, const std::vector<std::string>& argv);
  ~Interactive();
  Interactive(const Interactive&) = delete;
  Interactive& operator=(const Interactive&) = delete;

  void send(const std::string& line);
  void closeInput();
  // SIGTERM, then SIGKILL after the timeout; returns the exit status (-1 if killed).
  int stop(std::chrono::milliseconds timeout = 5s);
  void kill9();
  // SIGSTOP / SIGCONT: a server that stops answering (a backhaul outage) and comes back as it was.
  void pause();
  void resume();
  bool running();
  std::vector<std::string> lines() const;  // stdout so far
  std::string out() const;
  std::string err() const;
  std::size_t count(const std::string& needle) const;
  bool has(const std::string& needle) const { return count(needle) > 0; }
  bool waitFor(const std::string& needle, std::chrono::milliseconds timeout = 20s,
               std::size_t times = 1) const;

 private:
  std::string outPath_;
  std::string errPath_;
  pid_t pid_ = -1;
  int input_ = -1;
};

// A UDP port on 127.0.0.1 that was free a moment ago.
std::uint16_t freeUdpPort();

}  // namespace lwgate::e2e::bridge_e2e
