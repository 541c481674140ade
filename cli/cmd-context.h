/* cmd-context — `kiln context hash DIR`: a local build context's tree id. */
#pragma once

struct cli;

int cmd_context(struct cli *c, int argc, char **argv);
