#pragma once
// Helpers shared by the db tests: a private temporary directory and raw file access.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "db/sqlite.h"

namespace lwgate::db::testing {

// mkdtemp() directory, removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/lwgate-db-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << pattern;
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void writeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

inline bool exists(const std::string& path) {
  return std::filesystem::exists(path);
}

inline unsigned fileMode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// A plain connection with nothing set up, as an operator's sqlite3 shell would have.
inline Connection rawOpen(const std::string& path, OpenMode mode = OpenMode::kReadWriteCreate) {
  auto c = Connection::open(path, mode);
  if (!c) {
    ADD_FAILURE() << c.error().message;
    std::abort();
  }
  return std::move(*c);
}

inline std::int64_t queryInt(Connection& c, const std::string& sql) {
  auto v = c.queryInt(sql, sql);
  if (!v) {
    ADD_FAILURE() << v.error().message;
    return -1;
  }
  return *v;
}

inline std::string queryText(Connection& c, const std::string& sql) {
  auto v = c.queryText(sql, sql);
  if (!v) {
    ADD_FAILURE() << v.error().message;
    return {};
  }
  return *v;
}

inline void execOk(Connection& c, const std::string& sql) {
  auto r = c.exec(sql, sql);
  ASSERT_TRUE(r.ok()) << r.error().message;
}

}  // namespace lwgate::db::testing
