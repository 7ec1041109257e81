#include "db/files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lwgate::db {

Error posixError(std::string_view what, const std::string& path, int err) {
  return makeError(ErrorCode::kStorage, fmt::format("{} {}: {}", what, path, std::strerror(err)));
}

Result<void> removeIfExists(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return posixError("cannot remove", path, errno);
  }
  return {};
}

Result<void> fsyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return posixError("cannot open", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return posixError("cannot sync", path, err);
  return {};
}

std::string parentDirectory(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace lwgate::db
