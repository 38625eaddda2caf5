import { expect } from 'chai';
import { DEFAULT_URL_POLICY, parseCidr, refusedAddress, refusedLiteralHost, urlPolicyFromEnv } from '../../../src/policy/url-policy.js';

describe('policy: health-check URL policy', () => {
  it('refuses link-local and cloud metadata addresses, in any spelling the URL parser accepts', () => {
    for (const u of [
      'http://169.254.169.254/latest/meta-data/',
      'http://169.254.1.1:8080/',
      'http://2852039166/', // 169.254.169.254 as one number
      'http://0xa9.0xfe.0xa9.0xfe/',
      'http://[fe80::1]/',
      'http://[FEBF::1]/',
      'http://[fd00:ec2::254]/',
      'http://[::ffff:169.254.169.254]/',
      'http://100.100.100.200/',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://METADATA.google.internal./',
    ]) {
      expect(refusedLiteralHost(new URL(u)), u).to.be.a('string');
    }
  });

  it('allows loopback, private ranges and names (in-cluster Services live there)', () => {
    for (const u of ['http://127.0.0.1:8080/healthz', 'http://10.0.0.5/', 'http://192.168.1.1/', 'http://172.16.0.1/', 'http://[::1]/', 'http://[fd00::1]/', 'https://frontend.shop:8080/healthz', 'http://169.255.0.1/', 'http://[fec0::1]/']) {
      expect(refusedLiteralHost(new URL(u)), u).to.equal(undefined);
    }
  });

  it('refuses schemes other than http and https', () => {
    expect(refusedLiteralHost(new URL('file:///etc/passwd'))).to.contain('file:');
  });

  it('says which range refused the address and why', () => {
    expect(refusedAddress('169.254.169.254', DEFAULT_URL_POLICY)).to.equal('169.254.169.254 is in 169.254.0.0/16 (link-local, where cloud metadata services answer (169.254.169.254))');
  });

  it('takes extra denied ranges and exemptions from the environment', () => {
    const p = urlPolicyFromEnv({ MESHREV_HTTP_CHECK_DENY_CIDRS: '10.0.0.0/8, fd12::/16', MESHREV_HTTP_CHECK_ALLOW_CIDRS: '169.254.10.0/24' });
    expect(refusedAddress('10.1.2.3', p)).to.contain('MESHREV_HTTP_CHECK_DENY_CIDRS');
    expect(refusedAddress('fd12::1', p)).to.be.a('string');
    expect(refusedAddress('169.254.10.7', p)).to.equal(undefined);
    expect(refusedAddress('169.254.169.254', p)).to.be.a('string');
    expect(refusedAddress('11.0.0.1', p)).to.equal(undefined);
  });

  it('rejects a malformed range with a message naming the variable', () => {
    expect(() => urlPolicyFromEnv({ MESHREV_HTTP_CHECK_DENY_CIDRS: '10.0.0.0/33' })).to.throw(/MESHREV_HTTP_CHECK_DENY_CIDRS: "10.0.0.0\/33" is not a CIDR/);
    expect(() => parseCidr('nope')).to.throw(/not a CIDR/);
  });
});
