#pragma once
// File-system steps the database code shares (backups, migrations, restore): the one place where
// their errno becomes our kStorage error.
#include <string>
#include <string_view>

#include "gateway/util/result.h"

namespace lwgate::db {

// kStorage "<what> <path>: <strerror(err)>".
Error posixError(std::string_view what, const std::string& path, int err);
// Unlinks path; a missing file is fine.
Result<void> removeIfExists(const std::string& path);
// fsync of the file (flags O_RDONLY) or directory (O_RDONLY | O_DIRECTORY) at path.
Result<void> fsyncPath(const std::string& path, int flags);
// "/a/b" for "/a/b/c", "." for "c", "/" for "/c".
std::string parentDirectory(const std::string& path);

}  // namespace lwgate::db
