// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test fixture of the VM runner, never shipped: loading it triggers one
 * WARN_ON so the harness can prove that a guest WARNING fails the run.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
#include <linux/module.h>
#include <linux/bug.h>

static int trigger = 1;
module_param(trigger, int, 0444);
MODULE_PARM_DESC(trigger, "fire the WARN_ON at load (default 1)");

static int __init crab_harness_warn_init(void)
{
	WARN_ON(trigger);
	return 0;
}

static void __exit crab_harness_warn_exit(void)
{
}

module_init(crab_harness_warn_init);
module_exit(crab_harness_warn_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("CRAB VM runner fixture: triggers a WARN_ON");
