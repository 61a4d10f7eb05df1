#!/usr/bin/perl
# Writes the GeoIP test databases into OUTDIR (default: the current
# directory), byte for byte the same on every run:
#
#   maxmind-country.mmdb      MaxMind layout: country.iso_code,
#                             continent.code, registered_country.iso_code
#   maxmind-country-alt.mmdb  the same layout with other data, to test
#                             reopening a database that changed
#   iplocdb-country.mmdb      ip-location-db layout: a top-level
#                             country_code and nothing else
#   maxmind-asn.mmdb          autonomous_system_number and
#                             autonomous_system_organization
#   other-layout.mmdb         records with neither layout, which geo_open()
#                             must refuse
#
# Every network is on loopback so that tests can bind clients to it; the
# one public-looking address, 81.2.69.160, is data for the examples in
# docs/geoip.md and nothing ever connects to it.  127.0.0.1 and ::1 are
# left out on purpose: they stand for addresses a database does not know.
#
# The databases are IPv6 trees with IPv4 aliased in, like the published
# ones.  The writer drops reserved networks (loopback among them) unless
# told not to, and stamps the build time into the metadata, so both are
# set here; SOURCE_DATE_EPOCH overrides the fixed stamp.
use strict;
use warnings;

use MaxMind::DB::Writer::Tree;

my $EPOCH = $ENV{SOURCE_DATE_EPOCH} // 1767225600;    # 2026-01-01T00:00Z

my %TYPES = (
    country                        => 'map',
    registered_country             => 'map',
    continent                      => 'map',
    iso_code                       => 'utf8_string',
    code                           => 'utf8_string',
    country_code                   => 'utf8_string',
    autonomous_system_number       => 'uint32',
    autonomous_system_organization => 'utf8_string',
    city                           => 'utf8_string',
);

# network => [country, continent or undef]
my @COUNTRIES = (
    [ '127.0.0.2/32',   'FR', 'EU' ],
    [ '127.0.0.3/32',   'US', 'NA' ],
    [ '127.0.0.4/32',   'DE', 'EU' ],
    [ '127.0.0.5/32',   'KP', 'AS' ],
    [ '127.0.0.6/32',   'BR', undef ],
    [ '81.2.69.160/32', 'GB', 'EU' ],
);

# The alternative data: 127.0.0.2 moves to Italy, 127.0.0.9 appears.
my @COUNTRIES_ALT = (
    [ '127.0.0.2/32', 'IT', 'EU' ],
    [ '127.0.0.3/32', 'US', 'NA' ],
    [ '127.0.0.9/32', 'JP', 'AS' ],
);

my @ASNS = (
    [ '127.0.0.2/32', 3215,  'Orange' ],
    [ '127.0.0.3/32', 15169, 'Google' ],
    [ '127.0.0.4/32', 3320,  'Deutsche Telekom' ],
);

sub new_tree {
    my ($type) = @_;
    my $tree = MaxMind::DB::Writer::Tree->new(
        ip_version               => 6,
        record_size              => 24,
        database_type            => $type,
        languages                => ['en'],
        description              => { en => "Sallyport test data ($type)" },
        map_key_type_callback    => sub { $TYPES{ $_[0] } },
        alias_ipv6_to_ipv4       => 1,
        remove_reserved_networks => 0,
    );
    $tree->_set_build_epoch($EPOCH);
    return $tree;
}

sub write_tree {
    my ( $tree, $dir, $name ) = @_;
    my $path = "$dir/$name";
    my $tmp  = "$path.tmp";

    # A reader never sees a half-written file: write aside, then rename.
    open my $fh, '>:raw', $tmp or die "$tmp: $!\n";
    $tree->write_tree($fh);
    close $fh or die "$tmp: $!\n";
    rename $tmp, $path or die "$path: $!\n";
}

sub maxmind_country {
    my ( $rows, $registered ) = @_;
    my $tree = new_tree('Sallyport-Test-Country');

    for my $row (@$rows) {
        my ( $net, $cc, $continent ) = @$row;
        my %rec = ( country => { iso_code => $cc } );
        $rec{continent} = { code => $continent } if defined $continent;
        $tree->insert_network( $net, \%rec );
    }

    # Only the registered country is known: the lookup falls back to it
    # and derives the continent (JP: AS).
    $tree->insert_network( '127.0.0.7/32',
        { registered_country => { iso_code => 'JP' } } )
      if $registered;

    # Only the continent is known: the country stays unknown.
    $tree->insert_network( '127.0.0.8/32', { continent => { code => 'EU' } } )
      if $registered;
    return $tree;
}

sub iplocdb_country {
    my $tree = new_tree('country ipvAll');

    $tree->insert_network( $_->[0], { country_code => $_->[1] } )
      for @COUNTRIES;
    return $tree;
}

sub maxmind_asn {
    my $tree = new_tree('Sallyport-Test-ASN');

    for my $row (@ASNS) {
        $tree->insert_network(
            $row->[0],
            {
                autonomous_system_number       => $row->[1],
                autonomous_system_organization => $row->[2],
            }
        );
    }
    return $tree;
}

sub other_layout {
    my $tree = new_tree('Sallyport-Test-Other');

    $tree->insert_network( '127.0.0.2/32', { city => 'Paris' } );
    return $tree;
}

my $dir = shift @ARGV // '.';
die "usage: $0 [OUTDIR]\n" if @ARGV;
-d $dir or die "$dir: not a directory\n";

write_tree( maxmind_country( \@COUNTRIES, 1 ), $dir, 'maxmind-country.mmdb' );
write_tree( maxmind_country( \@COUNTRIES_ALT, 0 ),
    $dir, 'maxmind-country-alt.mmdb' );
write_tree( iplocdb_country(), $dir, 'iplocdb-country.mmdb' );
write_tree( maxmind_asn(),     $dir, 'maxmind-asn.mmdb' );
write_tree( other_layout(),    $dir, 'other-layout.mmdb' );
