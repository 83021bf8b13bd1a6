#include <archive.h>
#include <archive_entry.h>
// Glibc's module map leaves out <sys/xattr.h>; layers carry xattrs and overlayfs whiteouts are xattrs.
#include <sys/xattr.h>
