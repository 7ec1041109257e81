#include "tests/e2e/bridge_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>
#include <stdexcept>

#include "tests/e2e/harness.h"

namespace lwgate::e2e::bridge_e2e {

Interactive::Interactive(std::string dir, std::string name, const std::vector<std::string>& argv)
    : outPath_(dir + "/" + name + ".out"), errPath_(dir + "/" + name + ".err") {
  int pipeFds[2];
  if (::pipe2(pipeFds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const int out = ::open(outPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err = ::open(errPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0 || err < 0) throw std::runtime_error("cannot create " + outPath_);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(pipeFds[0], 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> raw;
    for (const auto& a : argv) raw.push_back(const_cast<char*>(a.c_str()));
    raw.push_back(nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvp(raw[0], raw.data());
    ::_exit(127);
  }
  ::close(pipeFds[0]);
  ::close(out);
  ::close(err);
  input_ = pipeFds[1];
}

Interactive::~Interactive() {
  closeInput();
  if (pid_ > 0) stop();
}

void Interactive::send(const std::string& line) {
  const std::string text = line + "\n";
  if (input_ >= 0) (void)!::write(input_, text.data(), text.size());
}

void Interactive::closeInput() {
  if (input_ >= 0) ::close(input_);
  input_ = -1;
}

int Interactive::stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  const bool done = waitUntil([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, timeout);
  if (!done) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  if (!done) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void Interactive::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void Interactive::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

void Interactive::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool Interactive::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string Interactive::out() const {
  return readFile(outPath_);
}
std::string Interactive::err() const {
  return readFile(errPath_);
}

std::vector<std::string> Interactive::lines() const {
  std::vector<std::string> out;
  std::istringstream in(readFile(outPath_));
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::size_t Interactive::count(const std::string& needle) const {
  std::size_t n = 0;
  for (const auto& l : lines()) n += l.find(needle) != std::string::npos ? 1 : 0;
  return n;
}

bool Interactive::waitFor(const std::string& needle, std::chrono::milliseconds timeout,
                          std::size_t times) const {
  return waitUntil([&] { return count(needle) >= times; }, timeout);
}

std::uint16_t freeUdpPort() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw std::runtime_error("no free UDP port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace lwgate::e2e::bridge_e2e
