#pragma once
// End-to-end test helpers: run the real lwgated and real peers as child processes, wait for
// conditions (never for fixed times), and look into the real SQLite file.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lwgate::e2e {

using namespace std::chrono_literals;

// Polls cond every 10 ms until it holds or timeout passes; returns the last result.
bool waitUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 10s);

// A fresh directory under $TMPDIR (or /tmp), removed when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string readFile(const std::string& path);
void writeFile(const std::string& path, const std::string& content);

struct RunResult {
  int exitCode = -1;  // -1 when it had to be killed at the timeout
  std::string out;
  std::string err;
};
// Runs argv to completion (killed after timeout), capturing stdout and stderr.
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 20s);

// The real lwgated, started with --db <dir>/lwgate.db --listen 127.0.0.1:0 and its stderr in
// <dir>/lwgated-<n>.log.
class Lwgated {
 public:
  explicit Lwgated(std::string dir) : dir_(std::move(dir)) {}
  ~Lwgated();

  // Starts and waits for READY ("LWG1000"); false (with the log kept) if it exits or times out.
  // Listens on 127.0.0.1:0 unless extraArgs bring their own --listen or setNoSec(false) was
  // called (then the configuration's listeners, e.g. DTLS only).
  bool start(const std::vector<std::string>& extraArgs = {});
  void setNoSec(bool on) { noSec_ = on; }
  void kill9();
  // SIGTERM and wait; returns the exit status (or -1 if it had to be killed).
  int stop();
  void signal(int sig);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Extra environment for the next start(), "NAME=value".
  void setEnvironment(std::vector<std::string> env) { env_ = std::move(env); }

  std::uint16_t port() const { return port_; }
  // The first listener: coap://127.0.0.1:PORT, or coap://[::1]:PORT when started on ::1.
  std::string url() const { return url_; }
  // The first DTLS listener (coaps://127.0.0.1:PORT) when the configuration has listen_dtls.
  std::string dtlsUrl() const { return dtlsUrl_; }
  std::uint16_t dtlsPort() const { return dtlsPort_; }
  std::string database() const { return dir_ + "/lwgate.db"; }
  std::string log() const;  // stderr of the current (or last) run
  bool waitForLog(const std::string& needle, std::chrono::milliseconds timeout = 10s) const;

 private:
  std::string dir_;
  std::string logPath_;
  pid_t pid_ = -1;
  int runs_ = 0;
  std::uint16_t port_ = 0;
  std::string url_;
  std::uint16_t dtlsPort_ = 0;
  std::string dtlsUrl_;
  bool noSec_ = true;
  std::vector<std::string> env_;
};

// A unix datagram socket standing in for systemd's NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path);
  ~NotifySocket();
  const std::string& path() const { return path_; }
  // Every message received so far (each "A=1\nB=2" datagram as one string).
  const std::vector<std::string>& drain();
  bool waitFor(const std::string& needle, std::chrono::milliseconds timeout = 10s);

 private:
  std::string path_;
  int fd_ = -1;
  std::vector<std::string> messages_;
};

// One-off read-only queries on the database file (a second connection, as an operator's sqlite3
// would be).
std::int64_t queryInt(const std::string& dbPath, const std::string& sql);
std::optional<std::string> queryText(const std::string& dbPath, const std::string& sql);

// Debian's coap-client-notls (libcoap's example client): a CoAP peer nobody here wrote.
struct CoapReply {
  std::string code;                       // "2.01", "4.00", ... ("" on timeout)
  std::vector<std::string> locationPath;  // Location-Path options
  std::string payload;
  std::string raw;  // everything the client printed, for failure messages
};
CoapReply coapClient(const std::string& method, const std::string& uri,
                     const std::optional<std::string>& linkFormatPayload = std::nullopt);
// The same with another client command and its options, e.g. {"env", "VAR=x",
// "coap-client-gnutls", "-u", "identity", "-k", "key"}.
CoapReply coapClientWith(const std::vector<std::string>& command, const std::string& method,
                         const std::string& uri,
                         const std::optional<std::string>& linkFormatPayload = std::nullopt);

// Sends one raw datagram to 127.0.0.1:port and waits for one answer (bounded).
std::optional<std::string> udpExchange(std::uint16_t port, const std::string& datagram,
                                       std::chrono::milliseconds timeout = 5s);

// A child process that runs while the test goes on (a simulator, a bus), stdout and stderr in
// files under `dir`; killed when the object goes away.
class Background {
 public:
  Background(std::string dir, std::string name) : dir_(std::move(dir)), name_(std::move(name)) {}
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  void start(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
  // SIGTERM, then SIGKILL after timeout; returns the exit code (128+signal, -1 if killed).
  int stop(std::chrono::milliseconds timeout = 5s);
  // Waits for the process to end by itself; -1 on timeout (it is then killed).
  int wait(std::chrono::milliseconds timeout = 30s);
  void kill9();
  bool running();
  pid_t pid() const { return pid_; }
  std::string out() const;  // stdout so far
  std::string err() const;  // stderr so far
  bool waitForOut(const std::string& needle, std::chrono::milliseconds timeout = 10s) const;

 private:
  std::string dir_;
  std::string name_;
  pid_t pid_ = -1;
};

// A private dbus-daemon for one test: a session-type bus on a socket in `dir` that lets
// everyone own names and call everything (the shipped system-bus policy is tested separately).
class PrivateBus {
 public:
  explicit PrivateBus(const std::string& dir);
  const std::string& address() const { return address_; }  // "unix:path=..."
  // For --bus: the address.
  std::vector<std::string> lwgatedArgs() const { return {"--bus", address_}; }

 private:
  Background daemon_;
  std::string address_;
};

}  // namespace lwgate::e2e
