// remove_tree.h: deletes a file or a directory with everything below it, without
// std::filesystem::remove_all. The PyTorch wheel's libtorch.so (torch 2.11) defines and exports its
// own std::filesystem::remove_all (nm -D: docs/measurements/2026-12-05/call3/nm_filesystem.txt),
// built against an older libstdc++; a binary built with g++ 13 and linked against it binds the call
// to that copy and crashed in it (SIGSEGV on the GPU machine when --save-hf replaced an existing
// directory, and in hf_checkpoint_test's cleanup). With nftw both pass there. POSIX nftw has no copy.
#pragma once
#include <string>

namespace zplan::rt {

// Removes `path` (file, symbolic link or directory tree; links are removed, not followed). A path
// that does not exist is no error. Returns false and fills `error` (when given) on failure.
bool remove_tree(const std::string& path, std::string* error = nullptr);

}  // namespace zplan::rt
