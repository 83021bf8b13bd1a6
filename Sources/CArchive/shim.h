#include <archive.h>
#include <archive_entry.h>
// Glibc's module map leaves out <sys/xattr.h>: user.* attributes from layers, and overlayfs's
// opaque-directory xattr in the image store.
#include <sys/xattr.h>
