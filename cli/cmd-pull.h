/* cmd-pull — `kiln pull`: an image's manifest, config and layer tables into the store. */
#pragma once

struct cli;

int cmd_pull(struct cli *c, int argc, char **argv);
