#!/usr/bin/env ruby
# frozen_string_literal: true

# Verify a webhook that hookline signed: schemes standard (v1 HMAC, and v1a
# ed25519 with OpenSSL 3 / the openssl gem >= 3.0), hmac-sha256, stripe and
# static. Standard library only. See docs/receiving.md.
#
# As a library:
#   require_relative "hookline_verify"
#   HooklineVerify.verify("standard", [secret], headers, request.raw_post)  # raises
#
# As a command (exit 0 valid, 1 not valid with the reason on stderr, 2 usage):
#   ruby hookline_verify.rb --scheme standard --secret-file secret.txt \
#     --header 'webhook-id: msg_1' --header 'webhook-timestamp: 1732262400' \
#     --header 'webhook-signature: v1,...' --body-file body.json
require "base64"
require "json"
require "openssl"
require "optparse"

# --- begin verify ---
module HooklineVerify
  DEFAULT_SIGNATURE_HEADER = {
    "standard" => "webhook-signature",
    "hmac-sha256" => "X-Webhook-Signature",
    "stripe" => "Stripe-Signature",
    "static" => "X-Secret-Key"
  }.freeze

  # kind is one of: missing_header, malformed, stale, mismatch
  class VerificationError < StandardError
    attr_reader :kind

    def initialize(kind, message)
      super("#{kind}: #{message}")
      @kind = kind
    end
  end

  # DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32-byte key follows.
  ED25519_SPKI = ["302a300506032b6570032100"].pack("H*").freeze

  module_function

  # header: the one value of |name| (case-insensitive) from a Hash or a list
  # of [name, value] pairs.
  def header(headers, name)
    values = headers.to_a.select { |k, _| k.to_s.casecmp?(name) }.map { |_, v| v.to_s }
    raise VerificationError.new("missing_header", "#{name}: header missing") if values.empty?
    raise VerificationError.new("malformed", "#{name}: header appears more than once") if values.size > 1

    values.first.strip
  end

  def check_timestamp(text, name, tolerance_s, now)
    raise VerificationError.new("malformed", "#{name}: not a Unix time in seconds") unless text.match?(/\A[0-9]+\z/)
    return unless tolerance_s.positive? && (now - text.to_i).abs > tolerance_s

    raise VerificationError.new("stale", "#{name}: more than #{tolerance_s} s from now")
  end

  def hmac(key, data)
    OpenSSL::HMAC.digest("SHA256", key, data)
  end

  # same compares in constant time; unequal lengths are simply unequal.
  def same(a, b)
    a.bytesize == b.bytesize && OpenSSL.fixed_length_secure_compare(a, b)
  end

  def ed25519_ok(public_key, signature, data)
    key = OpenSSL::PKey.read(ED25519_SPKI + public_key)
    key.verify(nil, signature, data)
  rescue StandardError
    false
  end

  def verify_standard(secrets, headers, body, tolerance_s, now, o)
    id = header(headers, o[:id_header])
    ts = header(headers, o[:timestamp_header])
    signatures = header(headers, o[:signature_header])
    check_timestamp(ts, o[:timestamp_header], tolerance_s, now)
    signed = "#{id}.#{ts}.".b + body.b
    expected = []
    public_keys = []
    secrets.each do |s|
      if s.start_with?("whsec_")
        expected << Base64.strict_encode64(hmac(Base64.strict_decode64(s[6..]), signed))
      elsif s.start_with?("whpk_")
        public_keys << Base64.strict_decode64(s[5..])
      else
        raise ArgumentError, "a standard secret starts with whsec_ (or whpk_ for v1a)"
      end
    end
    ok = false
    signatures.split(" ").each do |candidate|
      version, sig = candidate.split(",", 2)
      next if sig.nil?

      if version == "v1"
        expected.each { |e| ok = same(sig, e) || ok } # every comparison is made
      elsif version == "v1a"
        raw = Base64.decode64(sig)
        public_keys.each { |k| ok = ed25519_ok(k, raw, signed) || ok }
      end
    end
    raise VerificationError.new("mismatch", "#{o[:signature_header]}: no signature matched any secret") unless ok
  end

  def verify_hmac(secrets, headers, body, o)
    name = o[:signature_header]
    prefix = o[:prefix]
    value = header(headers, name)
    unless value.start_with?(prefix) && value.bytesize == prefix.bytesize + 64
      raise VerificationError.new("malformed", "#{name}: expected \"#{prefix}\" and 64 hex digits")
    end

    got = value[prefix.size..].downcase
    ok = false
    secrets.each { |s| ok = same(got, hmac(s, body).unpack1("H*")) || ok }
    raise VerificationError.new("mismatch", "#{name}: no signature matched any secret") unless ok
  end

  def verify_stripe(secrets, headers, body, tolerance_s, now, o)
    name = o[:signature_header]
    ts = nil
    candidates = []
    header(headers, name).split(",").each do |item|
      key, value = item.strip.split("=", 2)
      next if value.nil?

      if key == "t"
        raise VerificationError.new("malformed", "#{name}: more than one t=") unless ts.nil?

        ts = value
      elsif key == "v1"
        candidates << value.downcase
      end
    end
    raise VerificationError.new("malformed", "#{name}: no t= timestamp") if ts.nil?

    check_timestamp(ts, "#{name} t=", tolerance_s, now)
    signed = "#{ts}.".b + body.b
    ok = false
    secrets.each do |s|
      expected = hmac(s, signed).unpack1("H*")
      candidates.each { |c| ok = same(c, expected) || ok }
    end
    raise VerificationError.new("mismatch", "#{name}: no signature matched any secret") unless ok
  end

  def verify_static(secrets, headers, o)
    # Compare digests, so the time taken does not depend on the lengths.
    got = OpenSSL::Digest::SHA256.digest(header(headers, o[:signature_header]))
    ok = false
    secrets.each { |s| ok = same(got, OpenSSL::Digest::SHA256.digest(s)) || ok }
    raise VerificationError.new("mismatch", "#{o[:signature_header]}: the secret does not match") unless ok
  end

  # verify raises VerificationError unless |body| (the raw bytes received) and
  # |headers| carry a valid signature by one of |secrets| (several during a
  # rotation). tolerance_s = 0 skips the timestamp check.
  def verify(scheme, secrets, headers, body, tolerance_s = 300, signature_header: nil,
             prefix: "sha256=", id_header: "webhook-id", timestamp_header: "webhook-timestamp", now: nil)
    o = { signature_header: signature_header || DEFAULT_SIGNATURE_HEADER.fetch(scheme),
          prefix: prefix, id_header: id_header, timestamp_header: timestamp_header }
    now ||= Time.now.to_i
    case scheme
    when "standard" then verify_standard(secrets, headers, body, tolerance_s, now, o)
    when "hmac-sha256" then verify_hmac(secrets, headers, body, o)
    when "stripe" then verify_stripe(secrets, headers, body, tolerance_s, now, o)
    when "static" then verify_static(secrets, headers, o)
    end
  end
end
# --- end verify ---

if $PROGRAM_NAME == __FILE__
  opts = { secret_files: [], headers: [], tolerance: 300, kw: {} }
  begin
    OptionParser.new do |p|
      p.on("--scheme S") { |v| opts[:scheme] = v }
      p.on("--secret-file F") { |v| opts[:secret_files] << v }
      p.on("--header H") do |v|
        name, value = v.split(":", 2)
        raise OptionParser::InvalidArgument, "--header #{v}: expected 'Name: value'" if value.nil?

        opts[:headers] << [name.strip, value.strip]
      end
      p.on("--headers-json F") { |v| opts[:headers].concat(JSON.parse(File.read(v)).to_a) }
      p.on("--body-file F") { |v| opts[:body_file] = v }
      p.on("--tolerance N", Integer) { |v| opts[:tolerance] = v }
      p.on("--signature-header H") { |v| opts[:kw][:signature_header] = v }
      p.on("--prefix P") { |v| opts[:kw][:prefix] = v }
      p.on("--id-header H") { |v| opts[:kw][:id_header] = v }
      p.on("--timestamp-header H") { |v| opts[:kw][:timestamp_header] = v }
    end.parse!(ARGV)
    raise OptionParser::InvalidArgument, "--scheme" unless HooklineVerify::DEFAULT_SIGNATURE_HEADER.key?(opts[:scheme])
    raise OptionParser::InvalidArgument, "give at least one --secret-file" if opts[:secret_files].empty?
  rescue OptionParser::ParseError => e
    warn "hookline_verify: #{e.message}"
    exit 2
  end
  secrets = opts[:secret_files].map { |f| File.read(f).sub(/[\r\n]+\z/, "") }
  body = opts[:body_file] ? File.binread(opts[:body_file]) : $stdin.binmode.read
  begin
    HooklineVerify.verify(opts[:scheme], secrets, opts[:headers], body, opts[:tolerance], **opts[:kw])
  rescue HooklineVerify::VerificationError => e
    warn "not valid: #{e.message}"
    exit 1
  rescue ArgumentError => e
    warn "hookline_verify: #{e.message}"
    exit 2
  end
  puts "valid (#{opts[:scheme]})"
end
