#!/usr/bin/perl
# Write an empty Windows registry hive (one root key, one security
# descriptor) to FILE, for hivexregedit --merge to fill from .reg text.
#
#   make-hive.pl FILE
#
# hivex can edit hives but not create one, and committing a binary hive is
# what this project avoids, so the few structures an empty hive needs are
# written here: the 4 KiB base block ("regf", with its XOR checksum), and
# one 4 KiB bin ("hbin") holding the root key ("nk"), its security
# descriptor ("sk") and a free cell covering the rest of the bin.
use strict;
use warnings;

@ARGV == 1 or die "usage: make-hive.pl FILE\n";
my $file = $ARGV[0];

my $nk_off = 0x20;                      # offsets are from the first bin
my $sk_off = 0x78;
my $free_off = 0xa8;
my $bin_size = 0x1000;

# The root key: flags KEY_HIVE_ENTRY | KEY_NO_DELETE | KEY_COMP_NAME.
my $name = "ROOT";
my $nk = pack ("a2 v Q< V V V V V V V V V V v v V V V V v v a*",
               "nk", 0x2c, 0, 0, 0, 0, 0, 0xffffffff, 0xffffffff,
               0, 0xffffffff, $sk_off, 0xffffffff, 0, 0, 0, 0, 0, 0,
               length $name, 0, $name);
my $nk_cell = pack ("l<", -($sk_off - $nk_off)) . $nk;
$nk_cell .= "\0" x (($sk_off - $nk_off) - length $nk_cell);

# A self-relative security descriptor with nothing in it (revision 1,
# SE_SELF_RELATIVE | SE_DACL_PRESENT, no owner, group or lists).
my $sd = pack ("C C v V V V V", 1, 0, 0x8004, 0, 0, 0, 0);
my $sk = pack ("a2 v V V V V a*", "sk", 0, $sk_off, $sk_off, 1,
               length $sd, $sd);
my $sk_cell = pack ("l<", -($free_off - $sk_off)) . $sk;
$sk_cell .= "\0" x (($free_off - $sk_off) - length $sk_cell);

my $free_cell = pack ("l<", $bin_size - $free_off);
$free_cell .= "\0" x (($bin_size - $free_off) - length $free_cell);

my $hbin = pack ("a4 V V a20", "hbin", 0, $bin_size, "")
    . $nk_cell . $sk_cell . $free_cell;
length $hbin == $bin_size or die "make-hive.pl: bin is ", length $hbin, " bytes\n";

my $header = pack ("a4 V V Q< V V V V V V V", "regf", 1, 1, 0, 1, 3, 0, 1,
                   $nk_off, $bin_size, 1);
$header .= "\0" x (0x1fc - length $header);
my $sum = 0;
$sum ^= $_ for unpack ("V127", $header);
$header .= pack ("V", $sum);
$header .= "\0" x (0x1000 - length $header);

open my $fh, ">:raw", $file or die "make-hive.pl: $file: $!\n";
print $fh $header, $hbin or die "make-hive.pl: $file: $!\n";
close $fh or die "make-hive.pl: $file: $!\n";
