# Sourced by the virt-define tests after functions.sh: the oracles for a
# domain XML (libvirt's schema and its test driver) and xmllint queries.
requires virt-xml-validate --version
requires virsh --version
requires xmllint --version

quiet () { "$@" >/dev/null; }

# xp FILE XPATH: the string value of XPATH in FILE.
xp () { xmllint --xpath "string($2)" "$1"; }

# valid DESC FILE: two test points, libvirt's schema and its test driver.
valid ()
{
  ok "$1: virt-xml-validate" quiet virt-xml-validate "$2" domain
  ok "$1: virsh define (test driver)" quiet virsh -c test:///default define "$2"
}
