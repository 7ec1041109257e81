#include "tests/e2e/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace lwgate::e2e {
namespace {

pid_t spawn(const std::vector<std::string>& argv, const std::string& outPath,
            const std::string& errPath, const std::vector<std::string>& env = {}) {
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int out = open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    // Signals blocked by the test runner must not stay blocked in the child.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// Waits for pid up to timeout; kills it after. Returns the exit code, 128+signal, or -1.
int reap(pid_t pid, std::chrono::milliseconds timeout) {
  int status = 0;
  bool done = waitUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

bool waitUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return cond();
    std::this_thread::sleep_for(10ms);
  }
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/lwgate-e2e-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  TempDir dir;
  pid_t pid = spawn(argv, dir.file("out"), dir.file("err"));
  RunResult r;
  r.exitCode = reap(pid, timeout);
  r.out = readFile(dir.file("out"));
  r.err = readFile(dir.file("err"));
  return r;
}

Lwgated::~Lwgated() {
  if (pid_ > 0) stop();
}

bool Lwgated::start(const std::vector<std::string>& extraArgs) {
  logPath_ = dir_ + "/lwgated-" + std::to_string(++runs_) + ".log";
  std::vector<std::string> argv{LWGATED_PATH, "--db", database()};
  if (noSec_ && std::find(extraArgs.begin(), extraArgs.end(), "--listen") == extraArgs.end()) {
    argv.insert(argv.end(), {"--listen", "127.0.0.1:0"});
  }
  // Tests never touch the machine's own buses; those that want D-Bus bring a PrivateBus.
  if (std::find(extraArgs.begin(), extraArgs.end(), "--bus") == extraArgs.end()) {
    argv.insert(argv.end(), {"--bus", "none"});
  }
  argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());
  pid_ = spawn(argv, dir_ + "/lwgated.out", logPath_, env_);
  int status = 0;
  bool ready = waitUntil(
      [&] {
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          return true;
        }
        return log().find("LWG1000") != std::string::npos;
      },
      20s);
  if (!ready || pid_ < 0) {
    if (pid_ > 0) kill9();
    return false;
  }
  std::smatch m;
  std::string text = log();
  dtlsUrl_.clear();
  dtlsPort_ = 0;
  if (std::regex_search(text, m,
                        std::regex("listening on (coaps://(127\\.0\\.0\\.1|\\[::1\\]):(\\d+))"))) {
    dtlsUrl_ = m[1];
    dtlsPort_ = static_cast<std::uint16_t>(std::stoi(m[3]));
  }
  if (!std::regex_search(text, m,
                         std::regex("listening on (coap://(127\\.0\\.0\\.1|\\[::1\\]):(\\d+))"))) {
    url_.clear();
    port_ = 0;
    return !noSec_ && dtlsPort_ != 0;
  }
  url_ = m[1];
  port_ = static_cast<std::uint16_t>(std::stoi(m[3]));
  return true;
}

void Lwgated::kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int Lwgated::stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int code = reap(pid_, 10s);
  pid_ = -1;
  return code;
}

void Lwgated::signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

std::string Lwgated::log() const {
  return readFile(logPath_);
}

bool Lwgated::waitForLog(const std::string& needle, std::chrono::milliseconds timeout) const {
  return waitUntil([&] { return log().find(needle) != std::string::npos; }, timeout);
}

NotifySocket::NotifySocket(const std::string& path) : path_(path) {
  fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    throw std::runtime_error("cannot bind notify socket " + path);
  }
}

NotifySocket::~NotifySocket() {
  if (fd_ >= 0) close(fd_);
  unlink(path_.c_str());
}

const std::vector<std::string>& NotifySocket::drain() {
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0) break;
    messages_.emplace_back(buf, static_cast<std::size_t>(n));
  }
  return messages_;
}

bool NotifySocket::waitFor(const std::string& needle, std::chrono::milliseconds timeout) {
  return waitUntil(
      [&] {
        for (const auto& m : drain()) {
          if (m.find(needle) != std::string::npos) return true;
        }
        return false;
      },
      timeout);
}

namespace {
template <class T>
T query(const std::string& dbPath, const std::string& sql,
        const std::function<T(sqlite3_stmt*)>& read, T fallback) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(dbPath.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + dbPath);
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    std::string msg = sqlite3_errmsg(db);
    sqlite3_close(db);
    throw std::runtime_error("bad query " + sql + ": " + msg);
  }
  T out = sqlite3_step(st) == SQLITE_ROW ? read(st) : fallback;
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}
}  // namespace

std::int64_t queryInt(const std::string& dbPath, const std::string& sql) {
  return query<std::int64_t>(
      dbPath, sql, [](sqlite3_stmt* st) { return sqlite3_column_int64(st, 0); }, -1);
}

std::optional<std::string> queryText(const std::string& dbPath, const std::string& sql) {
  return query<std::optional<std::string>>(
      dbPath, sql,
      [](sqlite3_stmt* st) -> std::optional<std::string> {
        if (sqlite3_column_type(st, 0) == SQLITE_NULL) return std::nullopt;
        return std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
      },
      std::nullopt);
}

CoapReply coapClient(const std::string& method, const std::string& uri,
                     const std::optional<std::string>& payload) {
  return coapClientWith({"coap-client-notls"}, method, uri, payload);
}

CoapReply coapClientWith(const std::vector<std::string>& command, const std::string& method,
                         const std::string& uri, const std::optional<std::string>& payload) {
  // -v 6 makes the client print the response header line with its code and options, e.g.
  //   v:1 t:ACK c:2.01 i:0e62 {01} [ Location-Path:rd, Location-Path:e62-3c9 ]
  std::vector<std::string> argv = command;
  argv.insert(argv.end(), {"-v", "6", "-B", "10", "-m", method});
  if (payload) {
    argv.insert(argv.end(), {"-t", "40", "-e", *payload});
  }
  argv.push_back(uri);
  RunResult r = run(argv, 20s);
  CoapReply reply;
  reply.raw = r.out + r.err;
  std::smatch m;
  std::regex header(
      R"(t:(?:ACK|CON|NON) c:(\d\.\d\d) i:[0-9a-f]+ \{[0-9a-f]*\}(?: \[ ?(.*?) ?\])?(?: :: '(.*)')?)");
  std::string text = reply.raw;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), header);
       it != std::sregex_iterator(); ++it) {
    m = *it;  // the last response header printed is the final answer
  }
  if (m.empty()) return reply;
  reply.code = m[1];
  std::string options = m[2];
  std::regex loc(R"(Location-Path:([^,\s]+))");
  for (auto it = std::sregex_iterator(options.begin(), options.end(), loc);
       it != std::sregex_iterator(); ++it) {
    reply.locationPath.push_back((*it)[1]);
  }
  reply.payload = m[3];
  return reply;
}

std::optional<std::string> udpExchange(std::uint16_t port, const std::string& datagram,
                                       std::chrono::milliseconds timeout) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // A fixed local port for the whole test process, so a repeated datagram comes from the same
  // peer (that is what makes it a retransmission).
  static const std::uint16_t localPort = [] {
    int probe = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len);
    close(probe);
    return ntohs(a.sin_port);
  }();
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_port = htons(localPort);
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local);
  sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  pollfd p{fd, POLLIN, 0};
  std::optional<std::string> out;
  if (poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
    char buf[2048];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n >= 0) out = std::string(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return out;
}

Background::~Background() {
  kill9();
}

void Background::start(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  kill9();
  pid_ = spawn(argv, dir_ + "/" + name_ + ".out", dir_ + "/" + name_ + ".err", env);
}

int Background::stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const int code = reap(pid_, timeout);
  pid_ = -1;
  return code;
}

int Background::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  const int code = reap(pid_, timeout);
  pid_ = -1;
  return code;
}

void Background::kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool Background::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string Background::out() const {
  return readFile(dir_ + "/" + name_ + ".out");
}

std::string Background::err() const {
  return readFile(dir_ + "/" + name_ + ".err");
}

bool Background::waitForOut(const std::string& needle, std::chrono::milliseconds timeout) const {
  return waitUntil([&] { return out().find(needle) != std::string::npos; }, timeout);
}

PrivateBus::PrivateBus(const std::string& dir) : daemon_(dir, "dbus-daemon") {
  const std::string socket = dir + "/bus";
  writeFile(dir + "/bus.conf",
            R"(<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=)" +
                socket + R"(</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
)");
  daemon_.start(
      {"dbus-daemon", "--config-file=" + dir + "/bus.conf", "--nofork", "--print-address"});
  if (!daemon_.waitForOut("unix:path=")) {
    throw std::runtime_error("dbus-daemon did not start: " + daemon_.err());
  }
  address_ = "unix:path=" + socket;
}

}  // namespace lwgate::e2e
