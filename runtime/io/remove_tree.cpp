// remove_tree.cpp: see remove_tree.h.
#include "runtime/io/remove_tree.h"

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace zplan::rt {

namespace {

int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
  return ::remove(path) == 0 ? 0 : errno;  // remove(): unlink for files and links, rmdir for directories
}

}  // namespace

bool remove_tree(const std::string& path, std::string* error) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return true;
    if (error) *error = std::strerror(errno);
    return false;
  }
  // Depth first (children before their directory), not following links, within nftw's 64 open fds.
  const int rc = ::nftw(path.c_str(), remove_entry, 64, FTW_DEPTH | FTW_PHYS);
  if (rc == 0) return true;
  if (error) *error = std::strerror(rc > 0 ? rc : errno);
  return false;
}

}  // namespace zplan::rt
