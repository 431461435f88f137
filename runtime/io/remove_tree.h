// remove_tree.h: deletes a file or a directory with everything below it, without
// std::filesystem::remove_all. The PyTorch wheels' libtorch carries its own copy of parts of
// libstdc++'s filesystem library; a binary linked against it and built with a newer g++ can bind
// remove_all to that copy, whose directory internals differ, and crash (SIGSEGV on the GPU machine,
// torch 2.11 + g++ 13, when --save-hf replaced an existing directory). POSIX nftw has no such copy.
#pragma once
#include <string>

namespace zplan::rt {

// Removes `path` (file, symbolic link or directory tree; links are removed, not followed). A path
// that does not exist is no error. Returns false and fills `error` (when given) on failure.
bool remove_tree(const std::string& path, std::string* error = nullptr);

}  // namespace zplan::rt
