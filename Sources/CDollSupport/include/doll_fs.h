#ifndef DOLL_FS_H
#define DOLL_FS_H
/* File-system and stdio helpers. */

/* Atomically exchanges two existing paths (Linux renameat2 with RENAME_EXCHANGE). Returns 0, or
 * -1 with errno set (EINVAL or ENOSYS where the file system or kernel lacks it). */
int doll_rename_exchange(const char *a, const char *b);

/* fsync of a directory (so a rename inside it is durable). Returns 0 or -1 with errno set. */
int doll_fsync_directory(const char *path);

/* C stdio from Swift 6 (whose strict concurrency rejects the global `stdout`): writes a string
 * to stdout, and flushes stdout and stderr. */
void doll_stdout_write(const char *s);
void doll_stdio_flush(void);
/* Makes stdout line-buffered even into a pipe or file (output survives a later crash). */
void doll_stdout_line_buffered(void);

#endif
