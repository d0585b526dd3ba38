/* The fuzz targets as ordinary tests: feed every file of a corpus to
 * LLVMFuzzerTestOneInput() once, one TAP line per file.  A broken
 * invariant aborts, which the TAP driver reports as a failure.
 *
 * The corpus is the directory given as argument, else $FUZZ_CORPUS_DIR,
 * else $TOP_SRCDIR/t/fuzz/corpus/FUZZ_CORPUS (make check sets TOP_SRCDIR). */
#include "config.h"

#include "fuzz.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FUZZ_CORPUS
#error "FUZZ_CORPUS names the corpus directory of the target"
#endif

static int not_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* The whole of file name in dirfd, in *out (malloc'd); -1 on error. */
static ssize_t slurp_at(int dirfd, const char *name, uint8_t **out)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;
	ssize_t got;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	/* at least one byte: an empty input is fine, a NULL buffer is not */
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -1;
	}
	got = sb_read_full(fd, buf, (size_t)st.st_size);
	close(fd);
	if (got != st.st_size) {
		free(buf);
		return -1;
	}
	*out = buf;
	return got;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : getenv("FUZZ_CORPUS_DIR");
	struct dirent **ents;
	char path[4096];
	int n, dirfd, failed = 0;

	if (!dir) {
		const char *top = getenv("TOP_SRCDIR");
		snprintf(path, sizeof path, "%s/t/fuzz/corpus/%s", top ? top : ".", FUZZ_CORPUS);
		dir = path;
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	n = dirfd < 0 ? -1 : scandirat(dirfd, ".", &ents, not_hidden, alphasort);
	if (n < 0) {
		printf("Bail out! %s: %s\n", dir, strerror(errno));
		return 1;
	}
	printf("# corpus %s\n", dir);
	for (int i = 0; i < n; i++) {
		uint8_t *data;
		ssize_t len = slurp_at(dirfd, ents[i]->d_name, &data);
		if (len < 0) {
			printf("not ok %d - %s: %s\n", i + 1, ents[i]->d_name, strerror(errno));
			failed++;
		} else {
			/* the name first: an abort in the target is then on record */
			printf("# %s (%zd bytes)\n", ents[i]->d_name, len);
			fflush(stdout);
			LLVMFuzzerTestOneInput(data, (size_t)len);
			printf("ok %d - %s\n", i + 1, ents[i]->d_name);
			free(data);
		}
		free(ents[i]);
	}
	free(ents);
	close(dirfd);
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
